"""End to end through the fake Bot API: a case from a village to a commendation, every party told."""

from __future__ import annotations

from sqlmodel import select

from common.messages import t
from storage.models import Case, CaseEvent, CaseVersion
from tests.chat import image_bytes
from tests.conftest import add_member
from tests.telegram_user import TelegramUser
from tests.test_telegram_e2e import DESCRIPTION


async def nominate(cadre: TelegramUser, fake, name: str) -> str:
    await cadre.say("/decu", count=2)
    for text in ("ca nhan", name, "1975", "kinh", "nong dan", "1", "4", "khong ro", DESCRIPTION, "hom qua"):
        await cadre.say(text)
    fake.send_photo(cadre.id, image_bytes("red"), media_group_id="g1")
    fake.send_photo(cadre.id, image_bytes("blue"), media_group_id="g1")
    await cadre.replies()
    for text in ("xong", "bo qua", "co"):
        await cadre.say(text)
    return (await cadre.say("gui"))[0]["text"]


async def test_submit_return_fix_resubmit_approve_commend(server, bot, app, clock):
    await add_member(app, "7001", name="Chị Mai")
    await add_member(app, "7002", role="secretary", village=None, name="Anh Sơn")
    cadre, secretary = TelegramUser(server, 7001), TelegramUser(server, 7002)

    assert (await nominate(cadre, server, "Nguyen Van Hai")).startswith("Đã gửi hồ sơ NT-2026-00001")
    notice = (await secretary.replies())[0]  # from the outbox, at once
    assert notice["text"] == t("review.new_title") + "\n" + t("review.new_line", code="NT-2026-00001",
                                                               name="Nguyen Van Hai")
    listing = (await secretary.tap(t("remind.open_pending")))[0]
    assert listing["text"].startswith(t("review.pending_title", total=1, page=1, pages=1))
    opened = await secretary.tap("NT-2026-00001 – Nguyen Van Hai", count=3)  # an album of 2, then the text
    assert [("photo" in m) for m in opened] == [True, True, False]
    assert server.calls_named("sendMediaGroup")
    assert "• Tên: Nguyen Van Hai" in opened[2]["text"] and "• Ảnh: 2 ảnh" in opened[2]["text"]

    await secretary.tap(t("review.return"))
    assert (await secretary.tap("Tên"))[0]["text"] == t("review.flagged", fields="Tên")
    assert (await secretary.text("ok")) == t("review.reason_short", min=5)  # too short: asked again
    done = await secretary.text("Tên cần viết có dấu, đúng như trên căn cước.")
    assert done == t("review.done.return", code="NT-2026-00001")
    told = (await cadre.replies())[0]
    assert told["text"] == t("notify.returned", code="NT-2026-00001", name="Nguyen Van Hai",
                             reason="Tên cần viết có dấu, đúng như trên căn cước.", fields="Tên")

    clock.advance(minutes=20)  # the cadre fixes the case later; the secretary's next notice is not held back
    start, prompt = await cadre.tap(t("notify.fix_now"), count=2)
    assert start["text"].startswith("Sửa hồ sơ NT-2026-00001.") and "Cần sửa: Tên" in start["text"]
    assert prompt["text"].startswith(t("nom.name.prompt.ca_nhan"))
    summary = await cadre.text("Nguyễn Văn Hải")
    assert summary.startswith(t("summary.title")) and "• Tên: Nguyễn Văn Hải" in summary
    assert cadre.last_buttons()[0] == t("summary.resend")
    assert (await cadre.tap(t("summary.resend")))[0]["text"] == t("fix.resubmitted", code="NT-2026-00001")

    resubmitted = (await secretary.replies())[0]["text"]
    assert t("review.resubmitted_line", code="NT-2026-00001", name="Nguyễn Văn Hải") in resubmitted
    await secretary.say("/choduyet")
    reopened = await secretary.tap("NT-2026-00001 – Nguyễn Văn Hải", count=3)
    assert t("review.changed", fields="Tên") in reopened[2]["text"]
    assert (await secretary.tap(t("review.approve")))[0]["text"] == t("review.done.approve", code="NT-2026-00001")
    assert (await cadre.replies())[0]["text"] == t("notify.approved", code="NT-2026-00001", name="Nguyễn Văn Hải")
    # The old message's button, pressed again: already done, nothing changes.
    server.press(secretary.id, reopened[2], "rv:ok:1")
    assert (await secretary.replies())[0]["text"] == t("review.already", code="NT-2026-00001",
                                                       status=t("status.approved"))

    done = await secretary.text("/khenthuong NT-2026-00001 | Giấy khen của Chủ tịch UBND phường | 45/QĐ-UBND | "
                                "20/11/2026")
    assert done == t("review.done.commend", code="NT-2026-00001")
    assert (await cadre.replies())[0]["text"] == t(
        "notify.commended", code="NT-2026-00001", name="Nguyễn Văn Hải", form="Giấy khen của Chủ tịch UBND phường",
        decision="45/QĐ-UBND", date="20/11/2026")

    async with app.db.session() as session:
        case = (await session.exec(select(Case))).one()
        events = (await session.exec(select(CaseEvent).order_by(CaseEvent.id))).all()
        [version] = (await session.exec(select(CaseVersion))).all()
    assert [(e.from_status, e.to_status) for e in events] == [
        (None, "submitted"), ("submitted", "returned"), ("returned", "resubmitted"), ("resubmitted", "approved"),
        ("approved", "commended")]
    assert events[1].reason == "Tên cần viết có dấu, đúng như trên căn cước." and events[1].details == {
        "fields": ["name"]}
    assert events[2].details == {"changed": ["name"]}
    assert version.answers["name"] == "Nguyen Van Hai" and len(version.photos) == 2
    assert case.status == "commended" and case.version == 2 and case.commendation["decision"] == "45/QĐ-UBND"
    await cadre.no_more_replies()
