"""The web chat in a real browser (Chromium through Playwright): a cadre signs in by code and nominates with
two photos uploaded through the file input; the secretary, in a second browser context, opens the case, sees
the photos and returns it with a reason; the cadre sees the notice appear without reloading."""

from __future__ import annotations

import re
from pathlib import Path

from sqlmodel import select

from common.messages import t
from storage.models import Case, CasePhoto, Role
from tests.chat import image_bytes
from tests.conftest import new_invite
from tests.web_browser import PHONE, ChatPage

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "tests" / "screenshots" / "web-chat-summary-360.png"
STORY = "Chị Lan nhặt được ví có 5 triệu đồng ở chợ và đã trả lại cho người đánh rơi ngay trong ngày."


async def test_a_cadre_nominates_in_the_browser_and_the_secretary_returns_it(app, web_service, browser, tmp_path):
    cadre_code = await new_invite(app)
    secretary_code = await new_invite(app, Role.SECRETARY, village=None)
    photos = []
    for colour in ("red", "blue"):
        path = tmp_path / f"viec-tot-{colour}.jpg"
        path.write_bytes(image_bytes(colour, size=(640, 480)))
        photos.append(str(path))

    phone = await browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    cadre = ChatPage(await phone.new_page(), web_service.base_url)
    await cadre.sign_in(cadre_code, "Nguyễn Văn Cán")
    await cadre.bot_says("Chào mừng Nguyễn Văn Cán! Bạn đã được đăng ký là cán bộ của Thôn Đông")
    await cadre.page.evaluate("window.notReloaded = true")

    await cadre.menu(t("menu.nominate"), then=t("nom.kind.prompt"))
    await cadre.tap("Cá nhân", then=t("nom.name.prompt.ca_nhan"))
    await cadre.say("Nguyễn Thị Lan", then=t("nom.birth_year.prompt"))
    await cadre.say("1985")
    await cadre.tap("Tày", then=t("nom.position.prompt"))
    await cadre.say("nong dan")  # typed without diacritics, as on a cheap phone
    await cadre.tap("Thôn Đông", then=t("nom.field.prompt"))
    await cadre.say("14", then=t("nom.movement.prompt"))  # a number answers a choice too
    await cadre.tap("Người tốt, việc tốt", then=t("nom.description.prompt"))
    await cadre.say(STORY)
    await cadre.say("hôm nay", then=t("nom.photos.prompt"))
    await cadre.page.set_input_files("#picker", photos)  # two at once, through the file input
    await cadre.bot_says(t("photos.received", added=2, total=2))
    await cadre.tap("Xong", then=t("nom.phone.prompt"))
    await cadre.say("0912 345 678", then=t("nom.consent.prompt"))
    await cadre.tap("Có", then=t("summary.title"))
    summary = cadre.last_bot()
    for line in ("• Tên: Nguyễn Thị Lan", "• Dân tộc: Tày", "• Ảnh: 2 ảnh", STORY):
        assert line in await summary.inner_text()
    assert await summary.locator(".choices button").all_inner_texts() == [
        t("summary.send"), t("summary.edit"), t("summary.cancel")]
    SCREENSHOT.parent.mkdir(exist_ok=True)
    await cadre.page.screenshot(path=str(SCREENSHOT))
    width = await cadre.page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]  # nothing wider than the phone: no sideways scrolling
    await cadre.tap(t("summary.send"), then="Đã gửi hồ sơ NT-2026-00001")

    async with app.db.session() as session:
        case = (await session.exec(select(Case))).one()
        stored = (await session.exec(select(CasePhoto).where(CasePhoto.case_id == case.id))).all()
    assert case.answers["ethnicity"] == "Tày" and case.answers["phone"] == "+84912345678" and len(stored) == 2

    desk = await browser.new_context(viewport={"width": 1024, "height": 800})
    secretary = ChatPage(await desk.new_page(), web_service.base_url)
    await secretary.sign_in(secretary_code, "Trần Thư Ký")
    await secretary.bot_says("thường trực Hội đồng Thi đua")
    await secretary.say("/choduyet", then=t("review.pending_title", total=1, page=1, pages=1))
    await secretary.tap("NT-2026-00001 – Nguyễn Thị Lan", then="Hồ sơ NT-2026-00001")
    images = secretary.page.locator("#messages li.bot .photos img")
    await images.nth(1).wait_for()
    for index in range(2):  # drawn, not broken: the browser decoded each photo
        await secretary.page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                                               arg=await images.nth(index).element_handle())
    await secretary.tap(t("review.return"), then="hãy gõ lý do")
    await secretary.say("Cần thêm ảnh giấy khen của tổ dân phố.", then=t("review.done.return",
                                                                          code="NT-2026-00001"))

    await secretary.say("/thongke", then="📊")  # a chart: drawn full width, its height known once it loads
    chart = secretary.page.locator("#messages li.bot .photos.single img").last
    await secretary.page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                                           arg=await chart.element_handle())
    await secretary.page.wait_for_function(  # the newest words stay in view as the picture grows the list
        "() => { const l = document.getElementById('messages'); return l.scrollHeight - l.scrollTop - l.clientHeight < 4; }")
    await cadre.bot_says("Lý do: Cần thêm ảnh giấy khen của tổ dân phố.")  # pushed, no reload
    assert await cadre.page.evaluate("window.notReloaded === true")
    assert await cadre.last_bot().locator(".choices button").all_inner_texts() == [t("notify.fix_now")]
    await phone.close()
    await desk.close()


async def test_while_typing_on_a_phone_the_main_menu_steps_aside(app, web_service, browser):
    """With the keyboard open a phone shows half its screen: the menu's rows go to the conversation."""
    phone = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = await phone.new_page()
    failed = []
    page.on("response", lambda response: failed.append(f"{response.status} {response.url}")
            if response.status >= 400 else None)
    page.on("console", lambda message: failed.append(f"{message.text} {message.location}") if message.type == "error" else None)
    cadre = ChatPage(page, web_service.base_url)
    await cadre.sign_in(await new_invite(app), "Đang Gõ")
    await cadre.bot_says("Chào mừng Đang Gõ!")
    menu = cadre.page.locator("#menu")
    await menu.locator("button").first.wait_for()
    await cadre.page.focus("#text")
    assert not await menu.is_visible()
    await cadre.page.locator("#messages").click()  # the keyboard closes: the menu is back
    assert await menu.is_visible()
    assert failed == []  # nothing the page asks for is missing (a browser asks for /favicon.ico by itself)
    await phone.close()


async def test_where_websockets_are_blocked_the_page_falls_back_to_polling(app, web_service, browser):
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()

    async def blocked(socket) -> None:  # a proxy that lets the upgrade through and drops it at once
        await socket.close()

    await page.route_web_socket(re.compile(r".*/chat/ws.*"), blocked)
    polled = []
    page.on("request", lambda request: polled.append(request.url) if "/chat/api/messages" in request.url else None)
    chat = ChatPage(page, web_service.base_url)
    await chat.sign_in(await new_invite(app), "Mạng Chặn")
    await chat.bot_says("Chào mừng Mạng Chặn!")
    await chat.say("/trogiup", then=t("help.title"))
    assert polled and all("wait=1" in url for url in polled)
    await context.close()


def test_the_page_is_small_and_needs_no_other_server():
    static = ROOT / "bot" / "channels" / "web_static"
    assert sum(p.stat().st_size for p in static.glob("*.js")) + sum(p.stat().st_size for p in static.glob("*.css")) \
        < 100_000
    for path in static.iterdir():
        text = path.read_text().replace('xmlns="http://www.w3.org/2000/svg"', "")  # a name, never fetched
        assert re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text) == [], path.name
