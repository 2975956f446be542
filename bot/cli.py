"""The `nguoitot` command: run the bot, chat in a terminal, migrate, invite people."""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

from alembic import command

from bot.app import App, Roles, build_app, configure_logging, serve
from bot.channels.telegram import TelegramChannel, invite_link, make_bot
from bot.channels.terminal import TerminalChat
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
from common.text import fold
from scheduler.calendar import Calendar
from scheduler.reminders import ReminderPlanner, summarize
from scheduler.service import ReminderService
from storage import exports, repo
from storage.communes import AmbiguousCommune, CommuneNotFound, find_commune, find_province
from storage.db import Database
from storage.models import CaseStatus, Deadline, Role, UnitKind

log = logging.getLogger("nguoitot")

NO_TOKEN = """\
TELEGRAM_BOT_TOKEN chưa được đặt, nên bot chưa chạy trên Telegram: đây là bản chạy thử (demo).
  • Để chạy trên Telegram: tạo bot với @BotFather, rồi đặt TELEGRAM_BOT_TOKEN=<token> trong tệp .env
    (xem .env.example) và chạy lại lệnh này.
  • Trong lúc đó, một phường demo (một cán bộ, một thư ký, một lãnh đạo, vài hồ sơ) chạy trên cơ sở dữ liệu
    {database}; nhật ký ghi vào {log}.
"""


def main(argv: list[str] | None = None) -> int:
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nguoitot", description="Bot đề cử người tốt, việc tốt")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bot: receive (long polling, or a webhook with WEBHOOK_URL), handle, "
                                     "remind, serve /healthz and /metrics (the terminal chat without a token)")
    run.set_defaults(action=_run)
    sub.add_parser("worker", help="(PostgreSQL) only handle received updates, beside a `run` process"
                   ).set_defaults(action=_worker)
    sub.add_parser("sender", help="(PostgreSQL) only send reminders and notifications (the outbox)"
                   ).set_defaults(action=_sender)
    chat = sub.add_parser("chat", help="chat with the bot in this terminal as a demo cadre")
    chat.add_argument("--role", choices=[r.value for r in DEMO_USERS], default=Role.CADRE.value,
                      help="the demo person to be: cadre, secretary (review) or official (statistics)")
    chat.set_defaults(action=_chat)
    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="create or migrate the schema").set_defaults(action=_db_upgrade)
    revision = db.add_parser("revision", help="(developers) generate a migration from the models")
    revision.add_argument("-m", "--message", required=True)
    revision.set_defaults(action=_db_revision)
    invite = sub.add_parser("invite", help="create a single-use invitation and print its link")
    invite.add_argument("--role", required=True, choices=[r.value for r in Role])
    invite.add_argument("--commune", help="official commune code or name (\"Tân Hòa, Tuyên Quang\")")
    invite.add_argument("--province", help="for a province official: province code or name")
    invite.add_argument("--village", help="the cadre's village (created if new)")
    invite.add_argument("--organisation", help="the cadre's organisation, instead of a village (created if new)")
    invite.add_argument("--days", type=int, help="days until the invitation expires (default INVITE_TTL_DAYS)")
    invite.set_defaults(action=_invite)
    remind = sub.add_parser("remind", help="reminders").add_subparsers(dest="remind_command", required=True)
    preview = remind.add_parser("preview", help="who would get what at a moment, without sending")
    preview.add_argument("--at", required=True, type=_local_time, help="local time, e.g. 2026-12-13T08:00")
    preview.set_defaults(action=_remind_preview)
    remind.add_parser("run", help="plan and send what is due now").set_defaults(action=_remind_run)
    deadline = sub.add_parser("deadline", help="deadlines").add_subparsers(dest="deadline_command", required=True)
    add = deadline.add_parser("add", help="a one-off deadline with a title")
    move = deadline.add_parser("move", help="move a quarterly deadline of a commune or a province")
    for subcommand in (add, move):
        subcommand.add_argument("--commune", help="official commune code or name")
        subcommand.add_argument("--province", help="province code or name (all its communes)")
        subcommand.add_argument("--date", required=True, type=_date, help="the day, YYYY-MM-DD (until 23:59)")
    add.add_argument("--title", required=True)
    move.add_argument("--quarter", required=True, type=int, choices=[1, 2, 3, 4])
    move.add_argument("--year", type=int, help="the quarter's year (default: the year of --date, or the year "
                                               "before for quarter 4 moved into January)")
    add.set_defaults(action=_deadline_add)
    move.set_defaults(action=_deadline_move)
    units = sub.add_parser("units", help="villages and organisations").add_subparsers(dest="units_command",
                                                                                      required=True)
    load = units.add_parser("import", help="villages from a CSV file: commune code or name, village name")
    load.add_argument("file")
    load.set_defaults(action=_units_import)
    listed = units.add_parser("list", help="the units of a commune")
    listed.add_argument("--commune", required=True)
    listed.set_defaults(action=_units_list)
    people = sub.add_parser("people", help="people").add_subparsers(dest="people_command", required=True)
    who = people.add_parser("list", help="the people of a commune, with role and unit")
    who.add_argument("--commune", required=True)
    who.set_defaults(action=_people_list)
    movements = sub.add_parser("movements", help="the movements (phong trào) cadres choose from").add_subparsers(
        dest="movements_command", required=True)
    shown = movements.add_parser("list", help="the list a commune's cadres see")
    shown.add_argument("--commune", required=True)
    shown.set_defaults(action=_movements_list)
    own = movements.add_parser("set", help="a commune's own list, one movement a line, in order")
    own.add_argument("--commune", required=True)
    source = own.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", help="a UTF-8 text file, one movement a line")
    source.add_argument("--default", action="store_true", help="go back to the default list")
    own.set_defaults(action=_movements_set)
    export = sub.add_parser("export", help="the dossier of a commune or a province: XLSX, photo ZIP, DOCX and PDF")
    where = export.add_mutually_exclusive_group(required=True)
    where.add_argument("--commune", help="official commune code or name")
    where.add_argument("--province", help="province code or name (every commune of it)")
    export.add_argument("--year", type=int, help="the calendar year (with --quarter: that quarter's period)")
    export.add_argument("--quarter", type=int, choices=[1, 2, 3, 4], help="a reporting quarter (default: the "
                                                                          "current one)")
    export.add_argument("--from", dest="first", type=_date, help="first day, YYYY-MM-DD (with --to)")
    export.add_argument("--to", dest="last", type=_date, help="last day, YYYY-MM-DD")
    export.add_argument("--status", action="append", choices=[s.value for s in CaseStatus],
                        help="a status to include; repeat for several (default: approved and commended)")
    export.add_argument("--out", required=True, help="the folder to write the files to")
    export.set_defaults(action=_export)
    audit = sub.add_parser("audit", help="the audit of exports").add_subparsers(dest="audit_command", required=True)
    listed_exports = audit.add_parser("list", help="the latest exports: who, scope, period, files")
    listed_exports.add_argument("--limit", type=int, default=50)
    listed_exports.set_defaults(action=_audit_list)
    case = sub.add_parser("case", help="cases").add_subparsers(dest="case_command", required=True)
    history = case.add_parser("history", help="the audit trail of a case")
    history.add_argument("code")
    history.set_defaults(action=_case_history)
    return parser


@asynccontextmanager
async def _opened(settings: Settings) -> AsyncIterator[App]:
    """The application on the configured database, closed however the command ends."""
    app = await build_app(settings)
    try:
        yield app
    finally:
        await app.close()


def _read_lines(path: str) -> list[str]:
    return Path(path).read_text(encoding="utf-8-sig").splitlines()


def _read_csv(path: str) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return [row for row in csv.reader(handle) if len(row) >= 2 and row[1].strip()]


async def _units_import(settings: Settings, args: argparse.Namespace) -> int:
    """Rows of (commune code or name, village name); a header row is skipped; known villages are kept."""
    rows = _read_csv(args.file)
    if rows and not rows[0][0].strip().isdigit() and fold(rows[0][1]) in ("ten thon", "thon", "village", "name"):
        rows = rows[1:]
    app = await build_app(settings)
    added, problems = 0, []
    try:
        async with app.db.session() as session:
            for number, (commune_text, village, *_) in enumerate(rows, start=1):
                try:
                    commune = await repo.ensure_commune(session, find_commune(commune_text))
                except (CommuneNotFound, AmbiguousCommune) as exc:
                    problems.append(f"  dòng {number}: {_scope_error(exc).splitlines()[0]}")
                    continue
                before = await repo.unit_named(session, commune.code, UnitKind.VILLAGE, village)
                await repo.ensure_unit(session, commune.code, UnitKind.VILLAGE, village)
                added += before is None
    finally:
        await app.close()
    print(f"Đã thêm {added} thôn mới ({len(rows) - added - len(problems)} đã có).")
    for line in problems:
        print(line, file=sys.stderr)
    return 0 if not problems else 1


async def _units_list(settings: Settings, args: argparse.Namespace) -> int:
    commune = find_commune(args.commune)
    async with _opened(settings) as app:
        async with app.db.session() as session:
            for unit in await repo.units_of(session, commune.code):
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
            for person, membership, unit in await repo.people_of(session, commune.code):
                revoked = " (đã thu hồi)" if membership.revoked_at else ""
                print(f"#{person.id}\t{membership.role}\t{person.name}\t{unit.name if unit else ''}{revoked}")
    return 0


async def _case_history(settings: Settings, args: argparse.Namespace) -> int:
    async with _opened(settings) as app:
        async with app.db.session() as session:
            case = await repo.case_by_code(session, args.code)
            if case is None:
                print(f"Không có hồ sơ {args.code}.", file=sys.stderr)
                return 2
            print(f"{case.code} – {case.name} – {case.status} (phiên bản {case.version})")
            for event, actor in await repo.case_history(session, case.id):
                when = event.at.astimezone(settings.zone).strftime("%d/%m/%Y %H:%M")
                who = actor.name if actor else "hệ thống"
                line = f"{when}  {event.from_status or '—'} → {event.to_status}  bởi {who}"
                extra = "; ".join(x for x in (event.reason, ", ".join(f"{k}: {v}" for k, v in event.details.items()))
                                  if x)
                print(line + (f"  ({extra})" if extra else ""))
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
    return datetime.fromisoformat(text)


def _date(text: str) -> date:
    return date.fromisoformat(text)


async def _remind_preview(settings: Settings, args: argparse.Namespace) -> int:
    at = args.at if args.at.tzinfo else args.at.replace(tzinfo=settings.zone)
    async with _opened(settings) as app:
        async with app.db.session() as session:
            messages = await ReminderPlanner(settings).plan(session, at)
        print(f"Lúc {at:%d/%m/%Y %H:%M}: {len(messages)} nhắc nhở (chưa gửi).")
        for line in summarize(messages):
            print("  " + line)
    return 0


async def _remind_run(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.telegram_bot_token:
        print("TELEGRAM_BOT_TOKEN chưa được đặt: không có kênh nào để gửi nhắc nhở.", file=sys.stderr)
        return 2
    app = await build_app(settings)
    bot = make_bot(settings)
    try:
        channel = TelegramChannel(bot, app.media, settings.telegram_bot_username)
        service = ReminderService(app.db, settings, app.core.clock, {"telegram": channel})
        planned, handled = await service.run_once()
        print(f"Đã lên lịch {planned} nhắc nhở mới; đã xử lý {handled} tin trong hàng đợi.")
    finally:
        await bot.session.close()
        await app.close()
    return 0


async def _deadline_add(settings: Settings, args: argparse.Namespace) -> int:
    return await _save_deadline(settings, args, quarter=0, title=args.title)


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
    if not settings.telegram_bot_token:
        print(NO_TOKEN.format(database=settings.database_url, log=demo_log(settings)))
        return await run_demo(settings)
    return await serve(settings)


def _is_demo(args: argparse.Namespace, settings: Settings) -> bool:
    return args.command == "chat" or (args.command == "run" and not settings.telegram_bot_token)


def demo_log(settings: Settings) -> Path:
    return settings.media_dir.parent / "nguoitot.log"


async def _worker(settings: Settings, args: argparse.Namespace) -> int:
    problem = _needs_several_processes(settings)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    return await serve(settings, Roles(receive=False, plan=False, send=False, http=False))


async def _sender(settings: Settings, args: argparse.Namespace) -> int:
    problem = _needs_several_processes(settings)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    return await serve(settings, Roles(receive=False, work=False, plan=False, http=False))


def _needs_several_processes(settings: Settings) -> str:
    if not settings.telegram_bot_token:
        return "TELEGRAM_BOT_TOKEN chưa được đặt: tiến trình này không có kênh nào để gửi."
    if Database(settings.database_url).is_sqlite:
        return ("Nhiều tiến trình cần PostgreSQL (DATABASE_URL=postgresql://…). Với SQLite, một tiến trình "
                "`nguoitot run` làm mọi việc.")
    return ""


async def _chat(settings: Settings, args: argparse.Namespace) -> int:
    role = Role(args.role)
    async with _opened(settings) as app:
        await ensure_demo(app.db, app.media, app.core.clock.now())
        await TerminalChat(app.core, DEMO_USERS[role], DEMO_NAMES[role]).run()
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
                unit_id = (await repo.ensure_unit(session, commune_code, kind, name)).id
            code = await create_invite(session, role=role, now=now,
                                       ttl=timedelta(days=args.days or settings.invite_ttl_days),
                                       commune_code=commune_code, province_code=scope["province"],
                                       unit_id=unit_id)
        username = settings.telegram_bot_username or await _bot_username(settings)
        print(f"Mã mời ({role.value}, {scope['label']}), dùng một lần, hết hạn sau "
              f"{args.days or settings.invite_ttl_days} ngày:")
        print(f"  {code}")
        print(f"  {invite_link(username, code)}")
        if not username:
            print("  (đặt TELEGRAM_BOT_USERNAME hoặc TELEGRAM_BOT_TOKEN để in đúng tên bot)")
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
        raise ValueError("--commune is required for this role")
    commune = find_commune(args.commune)
    scope["commune"], scope["label"] = commune, commune.label
    if role == Role.CADRE:
        if not (args.village or args.organisation):
            raise ValueError("a cadre needs --village or --organisation")
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
