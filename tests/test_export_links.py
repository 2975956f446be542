"""/xuat on channels without documents: on Zalo (the fake Bot API) and in the web chat the files come as signed
download links served by the bot's own HTTP app; the links' security (forged, altered, expired, another job's
file: 403; swept: 404); the files kept until the links expire, then swept; without a public URL, a clear answer;
the terminal chat names the files' paths."""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path
from urllib.parse import unquote

import aiohttp
import openpyxl
import pytest

from bot.export_links import EXPIRY_FILE, ExportLinks
from bot.exports import file_size, sweep
from bot.http import HttpApp
from common.messages import t
from storage import exports
from storage.models import Role
from tests.chat import Chat
from tests.conftest import add_member, new_invite
from tests.export_seed import files_left, seed
from tests.people import ZaloPerson
from tests.test_web_chat import Browser

FILES = sorted(["ho-so-q2026-4.xlsx", "anh-ho-so-q2026-4.zip", *(f"{name}-q2026-4.{ext}" for name in (
    "to-trinh", "danh-sach-de-nghi", "tom-tat-thanh-tich", "giay-khen") for ext in ("docx", "pdf"))])
TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "pdf": "application/pdf",
         "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "zip": "application/zip"}
ZALO_LINK = re.compile(r"https?://\S+/tai-ve/\S+")


def on_disk(exports_dir: Path, url: str) -> Path:
    """The file a link names, where the job wrote it."""
    job, name = re.search(r"/tai-ve/([0-9a-f]{32})/([^?]+)\?", url).groups()
    return exports_dir / job / unquote(name)


async def download(url: str) -> tuple[int, bytes, dict]:
    """A plain client, with no cookie: the link alone must be enough."""
    async with aiohttp.ClientSession() as http, http.get(url) as answer:
        return answer.status, await answer.read(), dict(answer.headers)


# ---- Zalo: the whole /xuat through the fake Bot API
async def test_on_zalo_xuat_ends_with_a_message_of_signed_links_to_the_exact_files(zalo_server, zalo_bot, app):
    await seed(app)
    await add_member(app, "z-thu-ky", role=Role.SECRETARY, village=None, name="Thư ký Zalo", channel="zalo")
    secretary = ZaloPerson(zalo_server, "z-thu-ky")
    [progress] = await secretary.say("/xuat quý này")
    assert progress == t("export.progress", scope="Phường Hoàn Kiếm", period="quý IV/2026", done=0, total=4)
    await zalo_server.wait_for(lambda: len(ZALO_LINK.findall("\n".join(secretary.texts()))) == 10,
                               what="the message with the export's links")
    await app.core.exports.idle()
    texts = secretary.texts()[1:]
    assert texts[0].startswith("📦 Hồ sơ Phường Hoàn Kiếm – quý IV/2026: 4 hồ sơ, 10 tệp")
    assert "(24 giờ)" in texts[0] and all(len(text) <= 2000 for text in texts)  # split at line breaks, never cut
    assert not any(text.startswith("✅") for text in texts)  # Zalo edits nothing: no progress posted in between

    whole = "\n".join(texts)
    urls = ZALO_LINK.findall(whole)
    assert sorted(on_disk(app.settings.exports_dir, url).name for url in urls) == FILES
    assert all(url.startswith(app.settings.public_base_url + "/tai-ve/") for url in urls)
    for url in urls:
        path = on_disk(app.settings.exports_dir, url)
        assert f"• {path.name} ({file_size(path.stat().st_size)})" in whole  # each file: name, size, link
        status, body, headers = await download(url)
        assert status == 200 and body == path.read_bytes()  # the exact bytes the job wrote
        assert headers["Content-Type"].startswith(TYPES[path.suffix[1:]])
        assert headers["Content-Disposition"].startswith(f'attachment; filename="{path.name}"')
        assert headers["Cache-Control"] == "private, no-store" and headers["X-Content-Type-Options"] == "nosniff"
    sheet = next(url for url in urls if ".xlsx?" in url)
    rows = list(openpyxl.load_workbook(io.BytesIO((await download(sheet))[1])).active.iter_rows(values_only=True))
    assert len(rows) == 5 and "Nguyễn Thị Lành" in {row[1] for row in rows}

    # The files stay until the links expire (not deleted at "delivery"), and the audit says who took what.
    [folder] = {on_disk(app.settings.exports_dir, url).parent for url in urls}
    expires = int((folder / EXPIRY_FILE).read_text())
    assert abs(expires - (time.time() + 24 * 3600)) < 120
    assert len(files_left(app.settings.exports_dir)) == 11  # ten files and the expiry
    async with app.db.session() as session:
        [(entry, who)] = await exports.records(session)
    assert (who, entry.channel, sorted(entry.files)) == ("Thư ký Zalo", "zalo", FILES)

    # Past the expiry the link is refused, and the next sweep deletes the files.
    app.core.exports.links.now = lambda: expires + 1
    assert (await download(sheet))[0] == 403
    assert await app.core.exports.sweep() == [folder] and files_left(app.settings.exports_dir) == []


async def test_without_a_public_url_zalo_and_the_terminal_say_how_to_get_the_files(app):
    await seed(app)
    await add_member(app, "z-thu-ky", role=Role.SECRETARY, village=None, channel="zalo")
    [answer] = await Chat(app.core, "z-thu-ky", channel="zalo").say("/xuat quý này")
    assert answer.text == t("export.no_channel")
    for way in ("Telegram", "trang chat web", "nguoitot export"):
        assert way in answer.text
    assert files_left(app.settings.exports_dir) == []
    from bot.app import Roles, Service

    app.settings.zalo_bot_token, app.settings.public_base_url, app.settings.webhook_url = "z:token", "", ""
    service = Service(app, Roles(receive=False, work=False, plan=False, send=False, http=False))
    assert not app.core.exports.can_deliver("zalo") and app.core.exports.can_deliver("web")
    await service.stop()


async def test_the_terminal_chat_names_the_files_on_the_server(app):
    from bot.channels.terminal import TerminalChat

    await seed(app)
    await add_member(app, "t-thu-ky", role=Role.SECRETARY, village=None, channel="terminal")
    printed: list[str] = []
    await TerminalChat(app.core, "t-thu-ky").run(io.StringIO("/xuat quý này\n"), printed.append)
    await app.core.exports.idle()
    out = "\n".join(printed)
    assert "📦 Hồ sơ Phường Hoàn Kiếm – quý IV/2026: 4 hồ sơ, 10 tệp, nằm trên máy chủ" in out
    paths = [Path(line.strip()) for line in out.splitlines() if line.strip().startswith(str(app.settings.exports_dir.resolve()))]
    assert sorted(p.name for p in paths) == FILES and all(p.is_file() for p in paths)


# ---- the web chat: the same links, relative to the page's own server
async def test_in_the_web_chat_the_links_appear_and_download_without_the_session(app, web_service):
    await seed(app)
    browser = Browser(web_service.base_url)
    try:
        status, _ = await browser.sign_in(await new_invite(app, Role.SECRETARY, village=None), "Thư ký Web")
        assert status == 200
        await browser.say("/xuat quý này")
        seen = await browser.replies_until("📦 Hồ sơ Phường Hoàn Kiếm")
    finally:
        await browser.close()
    await app.core.exports.idle()
    assert t("export.progress", scope="Phường Hoàn Kiếm", period="quý IV/2026", done=0, total=4) in [
        m["text"] for m in seen]
    [done] = [m for m in seen if m["text"].startswith("📦")]
    labels = [label for label, _ in done["links"]]
    assert sorted(label.split(" (")[0] for label in labels) == FILES and all(label.endswith("B)") for label in labels)
    for _, url in done["links"]:
        assert url.startswith("/tai-ve/")  # relative: works without PUBLIC_BASE_URL
        status, body, headers = await download(web_service.base_url + url)
        assert status == 200 and body == on_disk(app.settings.exports_dir, url).read_bytes()
        assert headers["Content-Disposition"].startswith("attachment")
    assert "tai-ve" not in done["text"]  # the links are drawn by the page, not written into the text


def test_the_page_draws_links_as_links_never_as_html():
    script = (Path(__file__).resolve().parents[1] / "bot/channels/web_static/chat.js").read_text()
    drawing = script[script.index("message.links"):script.index("message.choices")]
    assert "link.textContent = label" in drawing and "innerHTML" not in script
    assert "https?:" in drawing  # only this server's paths and web addresses, never javascript:


# ---- the links themselves
@pytest.fixture
async def served(app, tmp_path):
    """Two jobs' files under an exports folder, the links to them, and the app serving them."""
    root = tmp_path / "exports"
    jobs = []
    for job, content in (("a" * 32, b"first job's sheet"), ("b" * 32, b"second job's sheet")):
        (root / job).mkdir(parents=True)
        (root / job / "ho-so-q2026-4.xlsx").write_bytes(content)
        (root / job / "to-trinh-q2026-4.pdf").write_bytes(b"%PDF-1.4 " + content)
        jobs.append(root / job)
    now = [time.time()]
    links = ExportLinks(app.db, root, now=lambda: now[0])
    await links.prepare()
    http = HttpApp(app.db, app.core.clock, [links.route()], max_backlog_age=300)
    await http.start("127.0.0.1", 0)
    yield links, jobs, now, f"http://127.0.0.1:{http.port}"
    await http.stop()


async def status_of(base: str, path: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(base + path) as answer:
        return answer.status


async def test_a_forged_altered_or_expired_link_gets_403(app, served):
    links, (job_a, job_b), now, base = served
    expires = int(now[0]) + 3600
    good = links.url(job_a / "ho-so-q2026-4.xlsx", expires)
    assert good.startswith(f"/tai-ve/{job_a.name}/ho-so-q2026-4.xlsx?e={expires}&s=")
    status, body, _ = await download(base + good)
    assert (status, body) == (200, b"first job's sheet")
    signature = good.rsplit("=", 1)[1]
    assert await status_of(base, good[:-1] + ("0" if good[-1] != "0" else "1")) == 403  # forged
    assert await status_of(base, good.replace(f"e={expires}", f"e={expires + 3600}")) == 403  # expiry stretched
    assert await status_of(base, good.replace("ho-so-q2026-4.xlsx", "to-trinh-q2026-4.pdf")) == 403  # another file
    assert await status_of(base, good.replace(job_a.name, job_b.name)) == 403  # another job's file, this signature
    assert await status_of(base, f"/tai-ve/{job_a.name}/ho-so-q2026-4.xlsx") == 403  # unsigned
    assert await status_of(base, f"/tai-ve/{job_a.name}/ho-so-q2026-4.xlsx?e={expires}&s=") == 403
    for sneaky in (f"/tai-ve/{job_a.name}/..%2F{job_b.name}%2Fho-so-q2026-4.xlsx?e={expires}&s={signature}",
                   f"/tai-ve/{job_a.name}/.links-expire?e={expires}&s={signature}",
                   f"/tai-ve/..%2F..%2Fetc/passwd?e={expires}&s={signature}"):
        assert await status_of(base, sneaky) in (403, 404)  # never a file outside what the job wrote
    other = ExportLinks(app.db, links.root, secret=b"another deployment's secret")
    assert await status_of(base, other.url(job_a / "ho-so-q2026-4.xlsx", expires)) == 403
    now[0] = expires + 1
    assert await status_of(base, good) == 403  # expired
    with pytest.raises(ValueError):
        links.url(links.root.parent / "elsewhere" / "x.xlsx", expires)  # only files of a job under EXPORTS_DIR


async def test_a_swept_file_gets_404_and_the_sweep_keeps_what_is_still_linked(served):
    links, (job_a, job_b), now, base = served
    expires = int(now[0]) + 3600
    (job_a / EXPIRY_FILE).write_text(str(expires))
    (job_b / EXPIRY_FILE).write_text(str(int(now[0]) - 1))  # its links have expired
    good = links.url(job_a / "ho-so-q2026-4.xlsx", expires)
    assert sweep(links.root, retention_hours=24, now=now[0]) == [job_b]
    assert await status_of(base, good) == 200
    old = time.time() - 25 * 3600  # past the retention, even though its links would still work
    os.utime(job_a, (old, old))
    assert sweep(links.root, retention_hours=24, now=now[0]) == [job_a]
    assert await status_of(base, good) == 404


def test_link_hours_never_outlast_the_retention(settings):
    assert settings.export_link_seconds == 24 * 3600
    settings.export_link_hours, settings.export_retention_hours = 48, 12
    assert settings.export_link_seconds == 12 * 3600
    assert [file_size(n) for n in (840, 12 * 1024, int(3.4 * 1024 * 1024))] == ["840 B", "12 KB", "3,4 MB"]


async def test_in_a_real_browser_the_links_are_drawn_as_links_and_download_the_file(app, web_service, browser,
                                                                                      tmp_path):
    from tests.web_browser import PHONE, WAIT_MS, ChatPage

    await seed(app)
    context = await browser.new_context(viewport=PHONE, accept_downloads=True)
    secretary = ChatPage(await context.new_page(), web_service.base_url)
    await secretary.sign_in(await new_invite(app, Role.SECRETARY, village=None), "Thư ký Web")
    await secretary.bot_says("thường trực Hội đồng Thi đua")
    await secretary.say("/xuat quý này")
    links = secretary.page.locator("#messages li.bot .links a")
    await links.nth(9).wait_for(timeout=WAIT_MS)
    assert await links.count() == 10
    labels = await links.all_inner_texts()
    assert sorted(label.split(" (")[0] for label in labels) == FILES
    sheet = secretary.page.locator("#messages li.bot .links a", has_text="ho-so-q2026-4.xlsx")
    href = await sheet.get_attribute("href")
    assert href.startswith("/tai-ve/") and await sheet.get_attribute("download") == ""
    await secretary.page.screenshot(path=str(tmp_path / "links.png"))
    async with secretary.page.expect_download(timeout=WAIT_MS) as downloading:
        await sheet.click()
    download = await downloading.value
    saved = tmp_path / "saved.xlsx"
    await download.save_as(saved)
    assert download.suggested_filename == "ho-so-q2026-4.xlsx"
    assert saved.read_bytes() == on_disk(app.settings.exports_dir, href).read_bytes()
    await context.close()
