"""The `nguoitot` command: run the bot, chat in a terminal, migrate, invite people."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from importlib import metadata
from pathlib import Path

from alembic import command

from bot.app import App, Roles, build_app, configure_logging, make_channels, serve
from bot.channels.telegram import invite_link, make_bot
from bot.channels.terminal import TerminalChat
from bot.channels.zalo import ZaloApi
from bot.demo import DEMO_NAMES, DEMO_USERS, ensure_demo, run_demo
from bot.export import dossier
from bot.export.dossier import ExportSpec
from bot.export.period import (
    DEFAULT_STATUSES,
    BadPeriod,
    Period,
    Selection,
    current_quarter,
    day_range,
    quarter,
    year,
)
from bot.export.rows import Visibility
from bot.exports import audit_entry
from bot.handlers.onboarding import create_invite
from bot.scopes import commune_scope, province_scope
from common.settings import Settings
from common.text import fold, natural_key
from scheduler.calendar import Calendar, years_around
from scheduler.reminders import ReminderPlanner, summarize
from scheduler.service import ReminderService
from storage import exports, repo
from storage.communes import AmbiguousCommune, CommuneNotFound, find_commune, find_province
from storage.db import Database
from storage.models import CaseStatus, Deadline, Role, UnitKind

log = logging.getLogger("nguoitot")

NO_TOKEN = """\
TELEGRAM_BOT_TOKEN và ZALO_BOT_TOKEN chưa được đặt, nên bot chưa chạy trên Telegram hay Zalo: đây là bản chạy thử (demo).
  • Để chạy trên Telegram: tạo bot với @BotFather, rồi đặt TELEGRAM_BOT_TOKEN=<token> trong tệp .env
    (xem .env.example) và chạy lại lệnh này.
  • Để chạy trên Zalo: tạo bot trên Zalo Bot Platform (bot.zaloplatforms.com), rồi đặt ZALO_BOT_TOKEN=<token>.
    Đặt cả hai thì một tiến trình phục vụ cả hai kênh.
  • Trong lúc đó, một phường demo (một cán bộ, một thư ký, một lãnh đạo, vài hồ sơ) chạy trên cơ sở dữ liệu
    {database}; nhật ký ghi vào {log}.
"""


def main(argv: list[str] | None = None) -> int:
    argparse._ = _argparse_vi  # argparse's own words ("usage:", "options", errors) in Vietnamese too
    args = _parser().parse_args(argv)
    settings = Settings()
    if _is_demo(args, settings):  # log lines must not land inside the terminal chat: they go to a file
        configure_logging(settings.log_level, settings.zone, demo_log(settings))
    else:
        configure_logging(settings.log_level, settings.zone)
    try:
        return asyncio.run(args.action(settings, args))
    except KeyboardInterrupt:
        return 130
    except (CommuneNotFound, AmbiguousCommune) as exc:
        print(_scope_error(exc), file=sys.stderr)
        return 2
    except Refused as refused:
        print(refused, file=sys.stderr)
        return 2


class Refused(Exception):
    """What the administrator asked cannot be done as asked; the message says why and what to do."""


_ARGPARSE_VI = {
    "usage: ": "cách dùng: ",
    "positional arguments": "tham số",
    "options": "tùy chọn",
    "show this help message and exit": "in hướng dẫn này rồi thoát",
    "show program's version number and exit": "in phiên bản rồi thoát",
    "the following arguments are required: %s": "thiếu tham số: %s",
    "unrecognized arguments: %s": "tham số không hiểu được: %s",
    "%(prog)s: error: %(message)s\n": "%(prog)s: lỗi: %(message)s\n(xem %(prog)s --help)\n",
    "invalid choice: %(value)r (choose from %(choices)s)": "lựa chọn không có: %(value)r (chọn một trong %(choices)s)",
    "expected one argument": "cần một giá trị",
    "argument %(argument_name)s: %(message)s": "tham số %(argument_name)s: %(message)s",
    "invalid %(type)s value: %(value)r": "giá trị không hợp lệ: %(value)r",
    "not allowed with argument %s": "không dùng cùng %s",
    "one of the arguments %s is required": "cần một trong các tham số %s",
}


def _argparse_vi(text: str) -> str:
    return _ARGPARSE_VI.get(text, text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nguoitot", description="Bot đề cử người tốt, việc tốt: chạy bot và quản trị.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="LỆNH", title="các lệnh")
    sub.add_parser("run", help="chạy bot: nhận tin (Telegram, trang chat), trả lời, nhắc hạn, /healthz; không có "
                              "token: chạy thử (demo) trên trình duyệt và terminal").set_defaults(action=_run)
    sub.add_parser("worker", help="(PostgreSQL) chỉ xử lý tin đã nhận, chạy bên cạnh một tiến trình run"
                   ).set_defaults(action=_worker)
    sub.add_parser("sender", help="(PostgreSQL) chỉ gửi nhắc nhở và thông báo").set_defaults(action=_sender)
    chat = sub.add_parser("chat", help="trò chuyện với bot ngay trên terminal, với vai một người demo")
    chat.add_argument("--role", choices=[r.value for r in DEMO_USERS], default=Role.CADRE.value,
                      help="vai demo: cadre (cán bộ, đề cử), secretary (thư ký, duyệt) hoặc official (lãnh đạo, "
                           "thống kê); mặc định cadre")
    chat.set_defaults(action=_chat)
    db = sub.add_parser("db", help="cơ sở dữ liệu").add_subparsers(dest="db_command", required=True, metavar="LỆNH")
    db.add_parser("upgrade", help="tạo hoặc nâng cấp cấu trúc cơ sở dữ liệu").set_defaults(action=_db_upgrade)
    revision = db.add_parser("revision", help="(nhà phát triển) tạo bản nâng cấp từ các bảng")
    revision.add_argument("-m", "--message", required=True, help="mô tả ngắn")
    revision.set_defaults(action=_db_revision)
    invite = sub.add_parser("invite", help="tạo mã mời dùng một lần; `invite list`: các mã còn hiệu lực")
    invite.add_argument("what", nargs="?", choices=["list"], help="list: liệt kê các lời mời chưa dùng, chưa hết hạn")
    invite.add_argument("--role", choices=[r.value for r in Role],
                        help="vai: cadre (cán bộ), secretary (thư ký), official (lãnh đạo), admin")
    invite.add_argument("--commune", help='mã hoặc tên xã/phường ("Tân Hòa, Đồng Tháp")')
    invite.add_argument("--province", help="với lãnh đạo tỉnh: mã hoặc tên tỉnh")
    invite.add_argument("--village", help="thôn, tổ dân phố của cán bộ (tạo mới nếu chưa có)")
    invite.add_argument("--organisation", help="đoàn thể của cán bộ, thay cho thôn (tạo mới nếu chưa có)")
    invite.add_argument("--new-village", action="store_true",
                        help="tạo thôn mới dù đã có thôn tên gần giống")
    invite.add_argument("--days", type=int, help="số ngày mã còn hiệu lực (mặc định INVITE_TTL_DAYS)")
    invite.set_defaults(action=_invite)
    remind = sub.add_parser("remind", help="nhắc nhở").add_subparsers(dest="remind_command", required=True,
                                                                       metavar="LỆNH")
    preview = remind.add_parser("preview", help="ai sẽ nhận gì vào một thời điểm (không gửi)")
    preview.add_argument("--at", required=True, type=_local_time, help="giờ địa phương, ví dụ 2026-12-13T08:00")
    preview.set_defaults(action=_remind_preview)
    remind.add_parser("run", help="lên lịch và gửi những gì đến hạn bây giờ").set_defaults(action=_remind_run)
    deadline = sub.add_parser("deadline", help="hạn gửi").add_subparsers(dest="deadline_command", required=True,
                                                                          metavar="LỆNH")
    add = deadline.add_parser("add", help="thêm một hạn có tên (một lần)")
    move = deadline.add_parser("move", help="dời hạn quý của một xã hoặc một tỉnh")
    listed_deadlines = deadline.add_parser("list", help="các hạn sắp tới của một xã (hoặc mọi hạn đã đặt)")
    for subcommand in (add, move, listed_deadlines):
        subcommand.add_argument("--commune", help="mã hoặc tên xã/phường")
        subcommand.add_argument("--province", help="mã hoặc tên tỉnh (mọi xã của tỉnh)")
    for subcommand in (add, move):
        subcommand.add_argument("--date", required=True, type=_date, help="ngày, dạng YYYY-MM-DD (hết 23:59)")
    add.add_argument("--title", required=True, help="tên của hạn")
    move.add_argument("--quarter", required=True, type=int, choices=[1, 2, 3, 4], help="quý 1–4")
    move.add_argument("--year", type=int, help="năm của quý (mặc định: năm của --date, hoặc năm trước nếu dời "
                                               "quý 4 sang tháng 1)")
    add.set_defaults(action=_deadline_add)
    move.set_defaults(action=_deadline_move)
    listed_deadlines.set_defaults(action=_deadline_list)
    units = sub.add_parser("units", help="thôn, tổ dân phố, đoàn thể").add_subparsers(
        dest="units_command", required=True, metavar="LỆNH")
    load = units.add_parser("import", help="nhập thôn từ tệp CSV", description=UNITS_FORMAT,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    load.add_argument("file", help="tệp CSV: mã hoặc tên xã, tên thôn (xem định dạng ở trên)")
    load.set_defaults(action=_units_import)
    listed = units.add_parser("list", help="các thôn, đoàn thể của một xã")
    listed.add_argument("--commune", required=True, help="mã hoặc tên xã/phường")
    listed.set_defaults(action=_units_list)
    people = sub.add_parser("people", help="người dùng").add_subparsers(dest="people_command", required=True,
                                                                        metavar="LỆNH")
    who = people.add_parser("list", help="người dùng của một xã, với vai và thôn")
    who.add_argument("--commune", required=True, help="mã hoặc tên xã/phường")
    who.set_defaults(action=_people_list)
    movements = sub.add_parser("movements", help="các phong trào thi đua cán bộ chọn").add_subparsers(
        dest="movements_command", required=True, metavar="LỆNH")
    shown = movements.add_parser("list", help="danh sách phong trào cán bộ của một xã thấy")
    shown.add_argument("--commune", required=True, help="mã hoặc tên xã/phường")
    shown.set_defaults(action=_movements_list)
    own = movements.add_parser("set", help="danh sách riêng của một xã, mỗi dòng một phong trào, theo thứ tự")
    own.add_argument("--commune", required=True, help="mã hoặc tên xã/phường")
    source = own.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", help="tệp văn bản UTF-8, mỗi dòng một phong trào")
    source.add_argument("--default", action="store_true", help="quay về danh sách mặc định")
    own.set_defaults(action=_movements_set)
    export = sub.add_parser("export", help="hồ sơ của một xã hoặc một tỉnh: XLSX, ảnh ZIP, DOCX và PDF")
    where = export.add_mutually_exclusive_group(required=True)
    where.add_argument("--commune", help="mã hoặc tên xã/phường")
    where.add_argument("--province", help="mã hoặc tên tỉnh (mọi xã của tỉnh)")
    export.add_argument("--year", type=int, help="năm (cùng --quarter: kỳ của quý đó)")
    export.add_argument("--quarter", type=int, choices=[1, 2, 3, 4], help="quý báo cáo (mặc định: quý này)")
    export.add_argument("--from", dest="first", type=_date, help="ngày đầu, YYYY-MM-DD (cùng --to)")
    export.add_argument("--to", dest="last", type=_date, help="ngày cuối, YYYY-MM-DD")
    export.add_argument("--status", action="append", choices=[s.value for s in CaseStatus],
                        help="một trạng thái cần lấy; lặp lại để lấy nhiều (mặc định: approved và commended)")
    export.add_argument("--out", required=True, help="thư mục ghi tệp")
    export.set_defaults(action=_export)
    audit = sub.add_parser("audit", help="nhật ký xuất hồ sơ").add_subparsers(dest="audit_command", required=True,
                                                                               metavar="LỆNH")
    listed_exports = audit.add_parser("list", help="các lần xuất gần đây: ai, phạm vi, kỳ, tệp")
    listed_exports.add_argument("--limit", type=int, default=50, help="số dòng (mặc định 50)")
    listed_exports.set_defaults(action=_audit_list)
    case = sub.add_parser("case", help="hồ sơ").add_subparsers(dest="case_command", required=True, metavar="LỆNH")
    history = case.add_parser("history", help="lịch sử (nhật ký) một hồ sơ")
    history.add_argument("code", help="mã hồ sơ, ví dụ NT-2026-00001")
    history.set_defaults(action=_case_history)
    show = case.add_parser("show", help="toàn bộ một hồ sơ: các câu trả lời, ảnh, trạng thái")
    show.add_argument("code", help="mã hồ sơ, ví dụ NT-2026-00001")
    show.set_defaults(action=_case_show)
    return parser


UNITS_FORMAT = """\
Nhập thôn, tổ dân phố từ một tệp CSV: mỗi dòng một thôn, hai cột:
  mã hoặc tên xã/phường, tên thôn
Ví dụ (dòng tiêu đề có thể có hoặc không):
  xa,thon
  00070,Tổ dân phố số 1
  "Tân Hòa, Đồng Tháp",Ấp Tân Thành
Dấu phân cách: dấu phẩy, chấm phẩy hoặc tab; mã hóa UTF-8 hoặc UTF-16 (Excel: "CSV UTF-8" hay "Unicode Text"
đều được). Thôn đã có thì giữ nguyên; thôn có tên gần giống thôn đã có thì bỏ qua và báo lại."""


def _version() -> str:
    try:
        return metadata.version("nguoitot")
    except metadata.PackageNotFoundError:
        return "(chưa cài đặt)"


@asynccontextmanager
async def _opened(settings: Settings) -> AsyncIterator[App]:
    """The application on the configured database, closed however the command ends."""
    app = await build_app(settings)
    try:
        yield app
    finally:
        await app.close()


def _read_lines(path: str) -> list[str]:
    return _decoded(path).splitlines()


def _decoded(path: str) -> str:
    """A text file as Excel or Notepad saves it: UTF-8 (with or without BOM) or UTF-16."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise Refused(f"Không có tệp {path}. Hãy kiểm tra đường dẫn (đang ở thư mục {Path.cwd()}).") from None
    except OSError as error:
        raise Refused(f"Không đọc được tệp {path}: {error.strerror}.") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Refused(f"Tệp {path} không phải UTF-8 hay UTF-16. Trong Excel, hãy lưu bằng \"CSV UTF-8\" "
                      "(Save As → CSV UTF-8), rồi nhập lại.") from None


def _read_csv(path: str) -> list[tuple[int, list[str]]]:
    """(line number in the file, cells) of each non-empty row; the separator (comma, semicolon, tab) is
    recognised from the file."""
    text = _decoded(path)
    sample = "\n".join(text.splitlines()[:20])
    counts = {sep: sample.count(sep) for sep in (",", ";", "\t")}
    separator = max(counts, key=counts.get) if any(counts.values()) else ","
    numbered, line = [], 1
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    for cells in reader:
        if any(cell.strip() for cell in cells):
            numbered.append((line, [cell.strip() for cell in cells]))
        line = reader.line_num + 1
    return numbered


async def _units_import(settings: Settings, args: argparse.Namespace) -> int:
    """Rows of (commune code or name, village name); a header row is skipped; known villages are kept; a
    village whose name looks like one the commune has is left out and said."""
    rows = _read_csv(args.file)
    if rows and not rows[0][1][0].isdigit() and fold(rows[0][1][-1]) in ("ten thon", "thon", "village", "name"):
        rows = rows[1:]
    short = [line for line, cells in rows if len(cells) < 2 or not cells[1]]
    if not rows or len(short) == len(rows):
        print(f"Tệp {args.file} không có dòng nào đúng định dạng (mã hoặc tên xã, tên thôn).\n{UNITS_FORMAT}",
              file=sys.stderr)
        return 1
    added, kept = 0, 0
    problems = [(line, f"  dòng {line}: cần hai cột (mã hoặc tên xã, tên thôn)") for line in short]
    async with _opened(settings) as app:
        async with app.db.session() as session:
            for line, (commune_text, village, *_) in ((n, c) for n, c in rows if n not in short):
                try:
                    commune = await repo.ensure_commune(session, find_commune(commune_text))
                except (CommuneNotFound, AmbiguousCommune) as exc:
                    problems.append((line, f"  dòng {line}: {_scope_error(exc).splitlines()[0]}"))
                    continue
                if await repo.unit_named(session, commune.code, UnitKind.VILLAGE, village) is not None:
                    kept += 1
                    continue
                alike = await repo.unit_like(session, commune.code, UnitKind.VILLAGE, village)
                if alike is not None:
                    problems.append((line, f"  dòng {line}: \"{village}\" gần giống thôn đã có \"{alike.name}\" nên "
                                           "chưa thêm; nếu đúng là thôn khác: nguoitot invite … --new-village"))
                    continue
                await repo.ensure_unit(session, commune.code, UnitKind.VILLAGE, village)
                added += 1
    print(f"Đã thêm {added} thôn mới ({kept} đã có).")
    for _, problem in sorted(problems):
        print(problem, file=sys.stderr)
    return 0 if not problems else 1


async def _units_list(settings: Settings, args: argparse.Namespace) -> int:
    commune = find_commune(args.commune)
    async with _opened(settings) as app:
        async with app.db.session() as session:
            units = sorted(await repo.units_of(session, commune.code), key=lambda u: (u.kind, natural_key(u.name)))
            if not units:
                print(f"{commune.label} chưa có thôn, đoàn thể nào (thêm bằng nguoitot units import hoặc invite).")
            for unit in units:
                retired = " (đã ngừng)" if unit.retired_at else ""
                print(f"#{unit.id}\t{unit.kind}\t{unit.name}{retired}")
    return 0


async def _movements_list(settings: Settings, args: argparse.Namespace) -> int:
    commune = find_commune(args.commune)
    async with _opened(settings) as app:
        async with app.db.session() as session:
            shown = await repo.movements_for(session, commune.code)
        if not any(m.commune_code for m in shown):
            print(f"{commune.name} dùng danh sách mặc định:")
        for number, movement in enumerate(shown, start=1):
            print(f"{number}. {movement.name}")
    return 0


async def _movements_set(settings: Settings, args: argparse.Namespace) -> int:
    commune = find_commune(args.commune)
    names = [] if args.default else _read_lines(args.file)
    if not args.default and not any(n.strip() for n in names):
        print(f"Tệp {args.file} không có phong trào nào (mỗi dòng một phong trào).", file=sys.stderr)
        return 1
    async with _opened(settings) as app:
        async with app.db.session() as session:
            await repo.ensure_commune(session, commune)
            await repo.set_commune_movements(session, commune.code, names)
        async with app.db.session() as session:
            count = len(await repo.movements_for(session, commune.code))
    which = "danh sách mặc định" if args.default else "danh sách riêng"
    print(f"{commune.name} dùng {which}: {count} phong trào. Bot dùng danh sách mới trong vòng một phút.")
    return 0


async def _people_list(settings: Settings, args: argparse.Namespace) -> int:
    commune = find_commune(args.commune)
    async with _opened(settings) as app:
        async with app.db.session() as session:
            people = await repo.people_of(session, commune.code)
            if not people:
                print(f"{commune.label} chưa có ai đăng ký (mời bằng nguoitot invite).")
            for person, membership, unit in sorted(people, key=lambda row: (row[1].role, natural_key(row[0].name))):
                revoked = " (đã thu hồi)" if membership.revoked_at else ""
                print(f"#{person.id}\t{membership.role}\t{person.name}\t{unit.name if unit else ''}{revoked}")
    return 0


async def _case_history(settings: Settings, args: argparse.Namespace) -> int:
    async with _opened(settings) as app:
        async with app.db.session() as session:
            case = await repo.case_by_code(session, args.code)
            if case is None:
                raise Refused(f"Không có hồ sơ {args.code}. Mã có dạng NT-2026-00001.")
            print(f"{case.code} – {case.name} – {case.status} (phiên bản {case.version})")
            for event, actor in await repo.case_history(session, case.id):
                when = event.at.astimezone(settings.zone).strftime("%d/%m/%Y %H:%M")
                who = actor.name if actor else "hệ thống"
                line = f"{when}  {event.from_status or '—'} → {event.to_status}  bởi {who}"
                extra = "; ".join(x for x in (event.reason, ", ".join(f"{k}: {v}" for k, v in event.details.items()))
                                  if x)
                print(line + (f"  ({extra})" if extra else ""))
    return 0


async def _case_show(settings: Settings, args: argparse.Namespace) -> int:
    """Everything a case holds, for the administrator (who sees every field)."""
    async with _opened(settings) as app:
        async with app.db.session() as session:
            case = await repo.case_by_code(session, args.code)
            if case is None:
                raise Refused(f"Không có hồ sơ {args.code}. Mã có dạng NT-2026-00001 (xem /danhsach hoặc "
                              "nguoitot export).")
            photos = await repo.case_photos(session, case.id)
            unit = await repo.unit_of(session, case.unit_id)
    print(f"{case.code} – {case.name} – {case.status} (phiên bản {case.version})")
    print(f"  xã {case.commune_code}{', ' + unit.name if unit else ''}; gửi "
          f"{case.submitted_at.astimezone(settings.zone):%d/%m/%Y %H:%M}, cập nhật "
          f"{case.updated_at.astimezone(settings.zone):%d/%m/%Y %H:%M}")
    for key, value in case.answers.items():
        shown = value.get("label", value) if isinstance(value, dict) else value
        print(f"  {key}: {'' if shown is None else shown}")
    if case.reason:
        print(f"  lý do: {case.reason}")
    if case.commendation:
        print("  khen thưởng: " + ", ".join(f"{k}: {v}" for k, v in case.commendation.items()))
    for photo in photos:
        print(f"  ảnh {photo['width']}×{photo['height']} {photo['mime_type']} "
              f"{app.media.backend.path(photo['sha256'])}")
    return 0


async def _export(settings: Settings, args: argparse.Namespace) -> int:
    try:
        scope = commune_scope(args.commune) if args.commune else province_scope(find_province(args.province)[0])
    except (CommuneNotFound, AmbiguousCommune) as exc:
        print(_scope_error(exc), file=sys.stderr)
        return 2
    async with _opened(settings) as app:
        now = app.core.clock.now()
        async with app.db.session() as session:
            rows = await repo.all_deadlines(session)
        calendar = Calendar(settings.zone, settings.deadline_dates, settings.deadline_time)
        commune, province = ("", scope.code) if scope.is_province else (scope.code, "")
        try:
            period = _export_period(args, now, lambda years: calendar.for_commune(commune, province, years, rows))
        except BadPeriod as bad:
            print(f"Kỳ không hợp lệ ({bad.code}): dùng --year, --quarter, hoặc --from và --to.", file=sys.stderr)
            return 2
        selection = Selection(period, tuple(args.status) if args.status else DEFAULT_STATUSES)
        spec = ExportSpec(scope, selection, Visibility.everything(), app.core.exports.part_limit("cli"),
                          Path(args.out), settings.templates_dir)
        total = await dossier.count(app.db, spec)
        if not total:
            print(f"Không có hồ sơ nào ({', '.join(selection.statuses)}) của {scope.name} trong {period.label}; "
                  "không tạo tệp nào.", file=sys.stderr)
            return 1

        async def progress(done: int, of: int) -> None:
            print(f"  {done}/{of} hồ sơ", file=sys.stderr)

        result = await dossier.build(app.db, app.media.backend.path, spec, settings.zone, now.date(), progress, total)
        async with app.db.session() as session:
            await exports.record(session, audit_entry(spec, result, None, "cli", app.core.clock.now()))
    print(f"{scope.name} – {period.label}: {result.cases} hồ sơ, {len(result.files)} tệp:")
    for path in result.files:
        print(f"  {path}")
    for missing in result.missing:
        print(f"  thiếu ảnh: {missing.code} {missing.sha256}", file=sys.stderr)
    return 0


def _export_period(args: argparse.Namespace, now: datetime, dues_for) -> Period:
    if args.first or args.last:
        if not (args.first and args.last):
            raise BadPeriod("export.bad_period")
        first, last = args.first, args.last
        period = day_range(first.day, first.month, first.year, last.day, last.month, last.year, zone=now.tzinfo)
    elif args.quarter:
        period = quarter(args.year or now.year, args.quarter, dues_for)
    elif args.year:
        period = year(args.year, now.tzinfo)
    else:
        period = current_quarter(now, dues_for)
    if period.start >= now:
        raise BadPeriod("export.future")
    return period


async def _audit_list(settings: Settings, args: argparse.Namespace) -> int:
    async with _opened(settings) as app:
        async with app.db.session() as session:
            found = await exports.records(session, args.limit)
    for entry, who in found:
        when = entry.at.astimezone(settings.zone).strftime("%d/%m/%Y %H:%M")
        print(f"{when}\t{who or '(dòng lệnh)'}\t{entry.channel}\t{entry.scope} {entry.scope_name}\t"
              f"{entry.period_label}\t{','.join(entry.statuses)}\t{entry.cases} hồ sơ\t"
              f"{len(entry.files)} tệp: {', '.join(entry.files)}"
              + (f"\tthiếu {entry.missing_photos} ảnh" if entry.missing_photos else ""))
    if not found:
        print("Chưa có lần xuất nào.")
    return 0


def _local_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"giờ không hợp lệ: {text!r}; dạng YYYY-MM-DDTHH:MM, ví dụ "
                                         "2026-12-13T08:00") from None


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"ngày không hợp lệ: {text!r}; dạng YYYY-MM-DD, ví dụ 2027-04-15") from None


async def _remind_preview(settings: Settings, args: argparse.Namespace) -> int:
    at = args.at if args.at.tzinfo else args.at.replace(tzinfo=settings.zone)
    async with _opened(settings) as app:
        async with app.db.session() as session:
            messages = await ReminderPlanner(settings).plan(session, at)
            registered = await repo.count_members(session)
        print(f"Lúc {at:%d/%m/%Y %H:%M}: {len(messages)} nhắc nhở (chưa gửi).")
        if not messages:
            print("  " + (_why_no_reminders(settings, at) if registered else
                          "Chưa có ai đăng ký nên chưa có ai để nhắc: mời người dùng bằng nguoitot invite."))
        for message, line in zip(sorted(messages, key=lambda m: (m.due_at, m.key)), summarize(messages),
                                 strict=True):
            catch_up = (message.due_at.hour, message.due_at.minute) != (settings.reminder_hour, 0) \
                and message.kind in ("deadline", "nudge", "draft")
            print("  " + line + ("  (nhắc bù: giờ nhắc thường đã qua khi bot chạy lại)" if catch_up else ""))
    return 0


def _why_no_reminders(settings: Settings, at: datetime) -> str:
    return (f"Nhắc nhở đi lúc {settings.reminder_hour}:00 (REMINDER_HOUR), {settings.reminder_offsets} ngày "
            f"trước mỗi hạn (REMINDER_OFFSETS), không trong giờ nghỉ {settings.quiet_hours} (QUIET_HOURS). "
            "Thử một giờ khác, ví dụ ngày 06/12 lúc 08:00 trước hạn 20/12: --at "
            f"{at.year}-12-06T{settings.reminder_hour:02d}:00.")


async def _remind_run(settings: Settings, args: argparse.Namespace) -> int:
    if not _has_channel(settings):
        print("TELEGRAM_BOT_TOKEN và ZALO_BOT_TOKEN chưa được đặt: không có kênh nào để gửi nhắc nhở.",
              file=sys.stderr)
        return 2
    app = await build_app(settings)
    bot = make_bot(settings) if settings.telegram_bot_token else None
    zalo = ZaloApi(settings.zalo_bot_token, settings.zalo_api_url) if settings.zalo_bot_token else None
    try:
        service = ReminderService(app.db, settings, app.core.clock, make_channels(app, bot, zalo))
        planned, handled = await service.run_once()
        print(f"Đã lên lịch {planned} nhắc nhở mới; đã xử lý {handled} tin trong hàng đợi.")
    finally:
        if bot is not None:
            await bot.session.close()
        if zalo is not None:
            await zalo.close()
        await app.close()
    return 0


def _has_channel(settings: Settings) -> bool:
    return bool(settings.telegram_bot_token or settings.zalo_bot_token)


async def _deadline_add(settings: Settings, args: argparse.Namespace) -> int:
    today = datetime.now(settings.zone).date()
    if args.date < today:
        raise Refused(f"Ngày {args.date:%d/%m/%Y} đã qua (hôm nay {today:%d/%m/%Y}): một hạn mới phải ở hôm nay "
                      "hoặc sau này.")
    return await _save_deadline(settings, args, quarter=0, title=args.title)


async def _deadline_list(settings: Settings, args: argparse.Namespace) -> int:
    """A commune's deadlines from today on (its own and its province's moves, the quarterly defaults, one-offs),
    or, without --commune, every deadline that was set."""
    calendar = Calendar(settings.zone, settings.deadline_dates, settings.deadline_time)
    commune = find_commune(args.commune) if args.commune else None
    province = commune.province_code if commune else (find_province(args.province)[0] if args.province else "")
    async with _opened(settings) as app:
        now = app.core.clock.now()
        async with app.db.session() as session:
            rows = await repo.all_deadlines(session)
    if commune is None and not province:
        for row in sorted(rows, key=lambda r: r.due_at):
            where = row.commune_code or f"tỉnh {row.province_code}"
            what = row.title or f"quý {row.quarter}/{row.year}"
            print(f"{row.due_at.astimezone(settings.zone):%d/%m/%Y %H:%M}\t{where}\t{what}")
        if not rows:
            print("Chưa đặt hạn riêng nào: mọi xã dùng hạn quý mặc định "
                  f"({settings.deadline_dates}, DEADLINE_DATES). Xem hạn của một xã: --commune <mã>.")
        return 0
    dues = [d for d in calendar.for_commune(commune.code if commune else "", province, years_around(now.date()), rows)
            if d.due_at >= now][:8]
    print(f"Các hạn sắp tới của {commune.label if commune else find_province(province)[1]}:")
    for due in dues:
        print(f"  {due.due_at:%d/%m/%Y %H:%M}  {due.title}")
    return 0


async def _deadline_move(settings: Settings, args: argparse.Namespace) -> int:
    year = args.year or (args.date.year - 1 if args.quarter == 4 and args.date.month <= 3 else args.date.year)
    return await _save_deadline(settings, args, quarter=args.quarter, title="", year=year)


async def _save_deadline(settings: Settings, args: argparse.Namespace, *, quarter: int, title: str,
                         year: int | None = None) -> int:
    try:
        commune = find_commune(args.commune) if args.commune else None
        province = find_province(args.province)[0] if args.province and not commune else None
    except (CommuneNotFound, AmbiguousCommune) as exc:
        print(_scope_error(exc), file=sys.stderr)
        return 2
    if commune is None and province is None:
        print("Cần --commune hoặc --province.", file=sys.stderr)
        return 2
    calendar = Calendar(settings.zone, settings.deadline_dates, settings.deadline_time)
    async with _opened(settings) as app:
        async with app.db.session() as session:
            if commune is not None:
                await repo.ensure_commune(session, commune)
            session.add(Deadline(commune_code=commune.code if commune else None, province_code=province,
                                 year=year or args.date.year, quarter=quarter, title=title,
                                 due_at=calendar.end_of(args.date), created_at=app.core.clock.now()))
        print(f"Đã lưu hạn {title or f'quý {quarter}/{year}'}: {args.date:%d/%m/%Y} 23:59.")
    return 0


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    if not _has_channel(settings):
        print(NO_TOKEN.format(database=settings.database_url, log=demo_log(settings)))
        return await run_demo(settings)
    return await serve(settings)


def _is_demo(args: argparse.Namespace, settings: Settings) -> bool:
    return args.command == "chat" or (args.command == "run" and not _has_channel(settings))


def demo_log(settings: Settings) -> Path:
    return settings.media_dir.parent / "nguoitot.log"


async def _worker(settings: Settings, args: argparse.Namespace) -> int:
    return await _serve_beside(settings, Roles(receive=False, plan=False, send=False, http=False))


async def _sender(settings: Settings, args: argparse.Namespace) -> int:
    return await _serve_beside(settings, Roles(receive=False, work=False, plan=False, http=False))


async def _serve_beside(settings: Settings, roles: Roles) -> int:
    """A process beside `nguoitot run`, doing part of its work."""
    problem = _needs_several_processes(settings)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    return await serve(settings, roles)


def _needs_several_processes(settings: Settings) -> str:
    if not _has_channel(settings):
        return "TELEGRAM_BOT_TOKEN và ZALO_BOT_TOKEN chưa được đặt: tiến trình này không có kênh nào để gửi."
    if Database(settings.database_url).is_sqlite:
        return ("Nhiều tiến trình cần PostgreSQL (DATABASE_URL=postgresql://…). Với SQLite, một tiến trình "
                "`nguoitot run` làm mọi việc.")
    return ""


async def _chat(settings: Settings, args: argparse.Namespace) -> int:
    role = Role(args.role)
    async with _opened(settings) as app:
        await ensure_demo(app.db, app.media, app.core.clock.now())
        await TerminalChat(app.core, DEMO_USERS[role], DEMO_NAMES[role]).run(sys.stdin)
    return 0


async def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    app = await build_app(settings)
    await app.close()
    print("Cơ sở dữ liệu đã ở phiên bản mới nhất.")
    return 0


async def _db_revision(settings: Settings, args: argparse.Namespace) -> int:
    db = Database(settings.database_url, schema=settings.database_schema)
    await asyncio.to_thread(command.revision, db.alembic_config(), message=args.message, autogenerate=True)
    await db.dispose()
    return 0


async def _invite(settings: Settings, args: argparse.Namespace) -> int:
    if args.what == "list":
        return await _invite_list(settings)
    if not args.role:
        raise Refused("Cần --role (cadre, secretary, official hoặc admin). Xem: nguoitot invite --help")
    role = Role(args.role)
    try:
        scope = _invite_scope(role, args)
    except (ValueError, CommuneNotFound, AmbiguousCommune) as exc:
        print(_scope_error(exc), file=sys.stderr)
        return 2
    async with _opened(settings) as app:
        now = app.core.clock.now()
        async with app.db.session() as session:
            unit_id = None
            commune_code = None
            if scope["commune"] is not None:
                commune_code = (await repo.ensure_commune(session, scope["commune"])).code
            if scope["unit"]:
                kind, name = scope["unit"]
                alike = await repo.unit_like(session, commune_code, kind, name) \
                    if await repo.unit_named(session, commune_code, kind, name) is None else None
                if alike is not None and not args.new_village:
                    raise Refused(f"Xã đã có \"{alike.name}\", gần giống \"{name}\". Nếu là một: dùng "
                                  f"--village \"{alike.name}\". Nếu đúng là nơi khác: thêm --new-village.")
                unit_id = (await repo.ensure_unit(session, commune_code, kind, name)).id
            code = await create_invite(session, role=role, now=now,
                                       ttl=timedelta(days=args.days or settings.invite_ttl_days),
                                       commune_code=commune_code, province_code=scope["province"],
                                       unit_id=unit_id)
        print(f"Mã mời ({role.value}, {scope['label']}), dùng một lần, hết hạn sau "
              f"{args.days or settings.invite_ttl_days} ngày; dùng được trên Telegram hoặc Zalo:")
        print(f"  {code}")
        if settings.telegram_bot_token or not settings.zalo_bot_token:
            username = settings.telegram_bot_username or await _bot_username(settings)
            print(f"  Telegram: mở {invite_link(username, code)}")
            if not username:
                print("  (đặt TELEGRAM_BOT_USERNAME hoặc TELEGRAM_BOT_TOKEN để in đúng tên bot)")
        if settings.zalo_bot_token or not settings.telegram_bot_token:
            name = await _zalo_name(settings)
            print(f"  Zalo: nhắn cho bot{f' {name}' if name else ''} trên Zalo đúng mã này (hoặc /start {code})")
        print("  Ai đã dùng bot ở kênh kia thì liên kết bằng /lienket, không cần mã mời mới.")
        return 0


async def _invite_list(settings: Settings) -> int:
    async with _opened(settings) as app:
        now = app.core.clock.now()
        async with app.db.session() as session:
            found = await repo.open_invites(session, now)
            communes = {c.code: c for c in await repo.communes_named(session, {i.commune_code for i, _ in found})}
    for invite, unit in found:
        where = communes[invite.commune_code].name if invite.commune_code in communes else (
            find_province(invite.province_code)[1] if invite.province_code else "")
        print(f"{invite.created_at.astimezone(settings.zone):%d/%m/%Y %H:%M}\t{invite.role}\t{where}"
              f"{', ' + unit.name if unit else ''}\thết hạn {invite.expires_at.astimezone(settings.zone):%d/%m/%Y}")
    print(f"{len(found)} lời mời chưa dùng, còn hạn (chỉ giữ dấu băm của mã: mã đã in lúc tạo, không in lại được)."
          if found else "Không có lời mời nào chưa dùng và còn hạn.")
    return 0


def _invite_scope(role: Role, args: argparse.Namespace) -> dict:
    scope: dict = {"commune": None, "province": None, "unit": None, "label": ""}
    if role == Role.OFFICIAL and args.province and not args.commune:
        scope["province"], scope["label"] = find_province(args.province)
        return scope
    if role == Role.ADMIN:
        scope["label"] = "quản trị"
        return scope
    if not args.commune:
        raise ValueError("Vai này cần --commune (mã hoặc tên xã/phường).")
    commune = find_commune(args.commune)
    scope["commune"], scope["label"] = commune, commune.label
    if role == Role.CADRE:
        if not (args.village or args.organisation):
            raise ValueError("Cán bộ cần --village (thôn, tổ dân phố) hoặc --organisation (đoàn thể).")
        kind, name = (UnitKind.VILLAGE, args.village) if args.village else (UnitKind.ORGANISATION, args.organisation)
        scope["unit"] = (kind.value, name.strip())
        scope["label"] = f"{name.strip()}, {commune.label}"
    return scope


def _scope_error(exc: Exception) -> str:
    if isinstance(exc, AmbiguousCommune):
        listed = "\n".join(f"  {c.code}  {c.name}, {c.province_name}" for c in exc.candidates[:20])
        return f"Tên xã/phường này trùng ở nhiều nơi; hãy dùng mã hoặc thêm tên tỉnh (\"Tên, Tỉnh\"):\n{listed}"
    if isinstance(exc, CommuneNotFound):
        return f"Không tìm thấy xã/phường/tỉnh: {exc}"
    return str(exc)


async def _zalo_name(settings: Settings) -> str:
    """The Zalo bot's name, to tell invited people whom to write to; "" when it cannot be asked."""
    if not settings.zalo_bot_token:
        return ""
    api = ZaloApi(settings.zalo_bot_token, settings.zalo_api_url)
    try:
        me = await api.call("getMe") or {}
        return str(me.get("account_name") or me.get("display_name") or "")
    except Exception as exc:  # offline: the code is still valid
        log.warning("could not ask Zalo for the bot's name: %r", exc)
        return ""
    finally:
        await api.close()


async def _bot_username(settings: Settings) -> str:
    if not settings.telegram_bot_token:
        return ""
    bot = make_bot(settings)
    try:
        return (await bot.get_me()).username or ""
    except Exception as exc:  # offline: the code is still valid, only the link lacks the name
        log.warning("could not ask Telegram for the bot's name: %r", exc)
        return ""
    finally:
        await bot.session.close()


if __name__ == "__main__":
    sys.exit(main())
