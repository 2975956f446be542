"""/xuat and /thongke end to end: the real bot polling the fake Bot API, which checks every call (sendMessage,
editMessageText, sendChatAction, sendDocument, sendPhoto) against the official spec."""

from __future__ import annotations

import io
import zipfile

import openpyxl
from PIL import Image

from common.messages import t
from tests.export_seed import SECRETARY_A, files_left, seed
from tests.telegram_user import TelegramUser


async def test_xuat_edits_its_progress_and_sends_every_file_as_a_document(server, bot, app):
    await seed(app)
    secretary = TelegramUser(server, int(SECRETARY_A))
    [question] = await secretary.say("/xuat")
    assert question["text"].startswith("Xuất hồ sơ Phường Hoàn Kiếm")
    await secretary.tap("Quý này (quý IV/2026)")  # the progress message comes first
    summary = t("export.sent", files=10, awards=t("export.awards"))
    await server.wait_for(lambda: any(m.get("text", "").startswith(summary[:20])
                                      for m in server.sent_messages(secretary.id)), what="the export's last message")

    progress = secretary.seen  # the progress message, edited in place to its end
    [first] = [m for m in server.sent_messages(secretary.id)[progress - 1:progress]]
    assert first["text"] == t("export.progress", scope="Phường Hoàn Kiếm", period="quý IV/2026", done=0, total=4)
    edited = server.current_message(secretary.id, first["message_id"])
    assert edited["text"] == t("export.done", scope="Phường Hoàn Kiếm", period="quý IV/2026", cases=4, files=10)
    edits = [c.params["text"] for c in server.calls_named("editMessageText")]
    assert t("export.drawing", scope="Phường Hoàn Kiếm", period="quý IV/2026", done=4, total=4) in edits
    assert {c.params["action"] for c in server.calls_named("sendChatAction")} == {"upload_document"}

    uploads = {c.params["document"].filename: c.params["document"].data for c in server.calls_named("sendDocument")}
    assert sorted(uploads) == sorted([
        "ho-so-q2026-4.xlsx", "anh-ho-so-q2026-4.zip", *(f"{name}-q2026-4.{ext}" for name in (
            "to-trinh", "danh-sach-de-nghi", "tom-tat-thanh-tich", "giay-khen") for ext in ("docx", "pdf"))])
    rows = list(openpyxl.load_workbook(io.BytesIO(uploads["ho-so-q2026-4.xlsx"])).active.iter_rows(values_only=True))
    assert len(rows) == 5 and "Nguyễn Thị Lành" in {row[1] for row in rows}
    assert "manifest.csv" in zipfile.ZipFile(io.BytesIO(uploads["anh-ho-so-q2026-4.zip"])).namelist()
    assert uploads["to-trinh-q2026-4.pdf"].startswith(b"%PDF")
    documents = [m for m in server.sent_messages(secretary.id) if "document" in m]
    assert len(documents) == 10 and documents[-1]["message_id"] < server.sent_messages(secretary.id)[-1]["message_id"]
    await app.core.exports.idle()
    assert files_left(app.settings.exports_dir) == []  # deleted once delivered


async def test_thongke_sends_the_chart_with_its_text(server, bot, app):
    await seed(app)
    secretary = TelegramUser(server, int(SECRETARY_A))
    server.send_text(secretary.id, "/thongke")
    await server.wait_for(lambda: any(m.get("text", "").startswith("📊") for m in server.sent_messages(secretary.id)),
                          what="the statistics")
    [photo] = server.calls_named("sendPhoto")
    with Image.open(io.BytesIO(photo.params["photo"].data)) as image:
        assert image.format == "PNG" and image.width == 900  # sent as drawn, not recompressed
