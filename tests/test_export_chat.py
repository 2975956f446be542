"""/xuat and /thongke through the core: scope and personal data for each role, the audit, bad input, one job
per person, the chart; and `nguoitot export` and `nguoitot audit list` on the command line."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import openpyxl
from PIL import Image
from sqlmodel import select

from bot.export.rows import COLUMNS
from common.events import Reply
from common.messages import t
from storage import exports
from storage.models import ExportRecord, Role
from tests.chat import Chat
from tests.cli import run_cli_async
from tests.conftest import add_member
from tests.export_seed import CADRE_A, OFFICIAL_A, PROVINCE_A, SECRETARY_A, SECRETARY_B, files_left, seed

KEYS = [c.key for c in COLUMNS]


class RecordingOutbound:
    """A channel that keeps what a background export says and the rows of the XLSX it sends."""

    file_limit = 50 * 1024 * 1024
    can_edit = True

    def __init__(self) -> None:
        self.posts: list[str] = []
        self.edits: list[str] = []
        self.sent: list[Reply] = []
        self.files: list[str] = []
        self.sheets: dict[str, list[tuple]] = {}  # chat → rows of the XLSX (read before the files are deleted)
        self.release = asyncio.Event()
        self.release.set()

    async def post(self, chat_id: str, text: str) -> str:
        self.posts.append(text)
        await self.release.wait()  # a test may hold the job here, to ask again meanwhile
        return str(len(self.posts))

    async def edit(self, chat_id: str, handle: str, text: str) -> None:
        self.edits.append(text)

    async def busy(self, chat_id: str) -> None:
        pass

    async def send(self, chat_id: str, reply: Reply) -> None:
        self.sent.append(reply)
        self.files += [Path(p).name for p in reply.documents]
        [sheet] = [p for p in reply.documents if p.endswith(".xlsx")]
        self.sheets[chat_id] = list(openpyxl.load_workbook(sheet).active.iter_rows(values_only=True))[1:]


async def exported(app, chat_id: str, text: str) -> tuple[list[Reply], RecordingOutbound]:
    outbound = RecordingOutbound()
    app.core.exports.attach("telegram", outbound)
    replies = await Chat(app.core, chat_id).say(text)
    await app.core.exports.idle()
    return replies, outbound


def column(rows: list[tuple], key: str) -> set:
    return {row[KEYS.index(key)] for row in rows}


async def test_a_secretary_exports_their_commune_with_ethnicity_and_phone_and_it_is_audited(app):
    world = await seed(app)
    replies, outbound = await exported(app, SECRETARY_A, "/xuat quý này")
    assert replies == []  # the job speaks for itself
    assert outbound.posts == [t("export.progress", scope="Phường Hoàn Kiếm", period="quý IV/2026", done=0, total=4)]
    assert outbound.edits[-1] == t("export.done", scope="Phường Hoàn Kiếm", period="quý IV/2026", cases=4, files=10)
    rows = outbound.sheets[SECRETARY_A]
    assert len(rows) == 4 and column(rows, "phone") == {"0912345678"} and "Tày" in column(rows, "ethnicity")
    assert outbound.sent[0].text.startswith("📦 Đã gửi 10 tệp") and len(outbound.sent[0].documents) == 10
    assert files_left(app.settings.exports_dir) == []  # delivered, then deleted
    async with app.db.session() as session:
        [(entry, who)] = await exports.records(session)
    assert (entry.person_id, entry.scope, entry.period_label, entry.cases) == (world.secretary_a, "commune:00070",
                                                                               "quý IV/2026", 4)
    assert entry.statuses == ["approved", "commended"] and sorted(entry.files) == sorted(outbound.files)


async def test_an_official_sees_ethnicity_but_no_phone(app):
    await seed(app)
    _, outbound = await exported(app, OFFICIAL_A, "/xuat năm 2026")
    rows = outbound.sheets[OFFICIAL_A]
    assert len(rows) == 4 and column(rows, "phone") == {None} and "Thái" in column(rows, "ethnicity")


async def test_a_province_official_exports_their_province_and_its_communes_only(app):
    await seed(app)
    _, outbound = await exported(app, PROVINCE_A, "/xuat năm tất cả")
    rows = outbound.sheets[PROVINCE_A]
    assert len(rows) == 6 and not any(str(code).endswith("00007") for code in column(rows, "code"))  # Bến Thành's
    assert column(rows, "phone") == {None}
    _, outbound = await exported(app, PROVINCE_A, "/xuat 00070 năm")  # one commune of the province, by its code
    assert len(outbound.sheets[PROVINCE_A]) == 4
    refused = (await Chat(app.core, PROVINCE_A).say("/xuat 26743 năm"))[0].text
    assert refused == t("export.not_found", code="26743")  # Bến Thành is in another province


async def test_outside_the_scope_and_bad_periods_are_refused_without_files(app):
    await seed(app)
    secretary_b = Chat(app.core, SECRETARY_B)
    assert (await secretary_b.say("/xuat 00070"))[0].text == t("export.not_found", code="00070")
    assert (await Chat(app.core, CADRE_A).say("/xuat"))[0].text == t("role.not_allowed")
    secretary = Chat(app.core, SECRETARY_A)
    assert (await secretary.say("/xuat quý 1/2027"))[0].text == t("export.future")
    assert (await secretary.say("/xuat hôm qua"))[0].text == t("export.bad_period")
    empty = (await secretary.say("/xuat quý 2/2026"))[0].text
    assert empty == t("export.empty", statuses="xã đã duyệt, đã được khen thưởng", scope="Phường Hoàn Kiếm",
                      period="quý II/2026")
    assert files_left(app.settings.exports_dir) == []
    async with app.db.session() as session:
        assert (await session.exec(select(ExportRecord))).all() == []


async def test_asking_twice_at_once_runs_one_export(app):
    await seed(app)
    outbound = RecordingOutbound()
    outbound.release.clear()  # the first job waits at its progress message
    app.core.exports.attach("telegram", outbound)
    secretary = Chat(app.core, SECRETARY_A)
    assert await secretary.say("/xuat") and (await secretary.say("/xuat quý này")) == []
    assert (await secretary.say("/xuat quý này"))[0].text == t("export.running")
    outbound.release.set()
    await app.core.exports.idle()
    assert len(outbound.posts) == 1 and len(outbound.sent) == 1


async def test_xuat_asks_the_period_and_a_button_starts_it(app):
    await seed(app)
    outbound = RecordingOutbound()
    app.core.exports.attach("telegram", outbound)
    secretary = Chat(app.core, SECRETARY_A)
    [question] = await secretary.say("/xuat")
    assert question.text.startswith("Xuất hồ sơ Phường Hoàn Kiếm")
    assert [c.label for c in question.choices] == ["Quý này (quý IV/2026)", "Quý trước (quý III/2026)",
                                                   "Cả năm 2026", "Quý này, mọi trạng thái"]
    assert await secretary.press_label("Quý này, mọi trạng thái") == []
    await app.core.exports.idle()
    assert len(outbound.sheets[SECRETARY_A]) == 6  # submitted and rejected too (withdrawn never)
    assert (await secretary.press("xu:c26743:y2026:d"))[0].text == t("export.not_found", code="26743")  # forged


async def test_two_scopes_choose_which_for_thongke_and_xuat(app):
    await seed(app)
    await add_member(app, SECRETARY_A, role=Role.OFFICIAL, village=None, province="01")  # also a province official
    secretary = Chat(app.core, SECRETARY_A)
    [ask] = await secretary.say("/thongke")
    assert ask.text == t("export.choose_scope") and [c.label for c in ask.choices] == [
        "Phường Hoàn Kiếm", "Toàn tỉnh: Thành phố Hà Nội"]
    [commune] = await secretary.press_label("Phường Hoàn Kiếm")
    assert commune.text.startswith("📊 Phường Hoàn Kiếm") and len(commune.photos) == 1
    [province] = await secretary.say("/thongke tinh")
    assert province.text.startswith("📊 Toàn tỉnh") and len(province.photos) == 1
    [ask] = await secretary.say("/xuat")
    assert [c.value for c in ask.choices] == ["xu:c00070", "xu:p01"]
    [ask] = await secretary.say("/xuat năm 2026 tất cả")  # the period typed travels with the choice
    assert [c.value for c in ask.choices] == ["xu:c00070:y2026:a", "xu:p01:y2026:a"]


async def test_the_chart_is_a_png_that_shows_something(app):
    await seed(app)
    [commune] = await Chat(app.core, SECRETARY_A).say("/thongke")
    assert commune.text.startswith("📊 Phường Hoàn Kiếm")  # the words stay, for screen readers and Zalo
    with Image.open(io.BytesIO(await app.media.load(commune.photos[0]))) as image:
        assert image.format == "PNG" and image.width == 900 and 300 <= image.height <= 1600
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 20  # text, bars and the quota line, not a blank page
    assert any(rgb == (46, 125, 50) for _, rgb in colours)  # the forwarded cases' green bar
    [province] = await Chat(app.core, PROVINCE_A).say("/thongke")
    with Image.open(io.BytesIO(await app.media.load(province.photos[0]))) as image:
        assert image.height < 600  # only the communes with something to count, not thirty rows of zeros


async def test_the_command_line_exports_and_lists_the_audit(app, settings, monkeypatch, capsys, tmp_path,
                                                            in_empty_folder):
    await seed(app)
    out = tmp_path / "ho-so"
    status, printed, err = await run_cli_async(["export", "--commune", "Hoàn Kiếm", "--year", "2026", "--status",
                                                "approved", "--out", str(out)], settings, monkeypatch, capsys)
    assert status == 0, err
    files = [Path(line.strip()) for line in printed.splitlines()[1:]]
    assert printed.startswith("Phường Hoàn Kiếm – năm 2026: 2 hồ sơ, 8 tệp:")  # no giấy khen: none commended
    assert all(f.parent == out and f.is_file() for f in files) and len(files) == 8
    status, printed, _ = await run_cli_async(["audit", "list"], settings, monkeypatch, capsys)
    assert status == 0 and "(dòng lệnh)\tcli\tcommune:00070 Phường Hoàn Kiếm\tnăm 2026\tapproved\t2 hồ sơ" in printed
    status, _, err = await run_cli_async(["export", "--commune", "Hoàn Kiếm", "--year", "2025", "--out",
                                          str(tmp_path / "x")], settings, monkeypatch, capsys)
    assert status == 1 and "Không có hồ sơ nào" in err and not (tmp_path / "x").exists()


def test_files_never_delivered_are_deleted_after_the_retention(tmp_path):
    import os
    import time

    from bot.exports import sweep

    old, recent = tmp_path / "old-job", tmp_path / "recent-job"
    for folder in (old, recent):
        folder.mkdir()
        (folder / "ho-so.xlsx").write_bytes(b"x")
    day_ago = time.time() - 25 * 3600
    os.utime(old, (day_ago, day_ago))
    assert sweep(tmp_path, retention_hours=24) == [old]
    assert not old.exists() and (recent / "ho-so.xlsx").exists()
