"""End to end on both channels at once, written once and run each way round: the real bot serves Telegram and
Zalo in one process, with one database, against the two fake servers (the Telegram one checks every call
against the official API, the Zalo one against the documented contract).

A cadre invited on one channel nominates with 3 photos (at most 15 actions from /decu to the case code); the
secretary, on the other channel, opens it (photos included: an album on Telegram, signed links on Zalo),
returns it with a reason and a flagged answer; the cadre fixes it; the secretary approves; then the reminders
of the rest of the quarter reach each person on their own channel. A person on both channels (/lienket) gets
each reminder once, where they wrote last, or where they chose."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from common.messages import t
from scheduler.outbox import RateLimiter
from scheduler.outbox import backlog as outbox_backlog
from scheduler.service import ReminderService
from storage import repo
from storage.models import Role
from tests.chat import image_bytes
from tests.conftest import ZONE, add_member, new_invite, wait_until
from tests.people import Person, TelegramPerson, ZaloPerson
from tests.test_telegram_e2e import DESCRIPTION, stored_cases

EACH_WAY = [pytest.param("zalo", "telegram", id="cadre-on-zalo"),
            pytest.param("telegram", "zalo", id="cadre-on-telegram")]
MOST_ACTIONS = 15  # from /decu to the case code, for an individual with 3 photos


def on(channel: str, telegram, zalo, number: int) -> Person:
    """A person on this channel; ids are strings on Zalo, numbers on Telegram."""
    return ZaloPerson(zalo, f"z{number}") if channel == "zalo" else TelegramPerson(telegram, str(number))


async def nominate(cadre: Person, name: str, photos: list[bytes]) -> str:
    """An individual with `photos`, each question answered as a person would; the bot's last word."""
    start = cadre.actions
    intro, kind = await cadre.say("/decu", count=2)
    assert kind.startswith(t("nom.kind.prompt"))
    await cadre.choose("Cá nhân")
    await cadre.say(name)
    await cadre.say("1985")
    await cadre.choose("Tày")
    await cadre.say("Nông dân")
    await cadre.choose(cadre.options()[0])  # the cadre's own village, offered first
    await cadre.choose("Đời sống xã hội")
    await cadre.choose("Người tốt, việc tốt")
    await cadre.say(DESCRIPTION)
    # Only Telegram shrinks photos, so only there is the cadre told to send one as a file (Zalo cannot).
    prompt = t("nom.photos.prompt_files" if cadre.channel == "telegram" else "nom.photos.prompt")
    assert (await cadre.choose(t("nom.when.today")))[0].startswith(prompt)
    [ack] = await cadre.send_photos(photos)
    assert ack.startswith(t("photos.received", added=len(photos), total=len(photos)))
    assert t("nom.phone.prompt") in ack  # the next question, answering which ends the photo step
    assert (await cadre.say("0912 345 678"))[0].startswith(t("nom.consent.prompt"))
    summary = (await cadre.choose(t("nom.consent.yes")))[0]
    assert f"• Ảnh: {len(photos)} ảnh" in summary and "• Thời gian: 22/11/2026" in summary
    done = (await cadre.choose(t("summary.send")))[0]
    assert cadre.actions - start <= MOST_ACTIONS, f"{cadre.actions - start} actions"
    return done


@pytest.mark.parametrize("cadre_channel, secretary_channel", EACH_WAY)
async def test_a_case_from_invitation_to_approval_across_channels(server, zalo_server, both_bots, app, clock,
                                                                 cadre_channel, secretary_channel):
    await add_member(app, "z7002" if secretary_channel == "zalo" else "7002", role=Role.SECRETARY, village=None,
                     name="Anh Sơn", channel=secretary_channel)
    cadre = on(cadre_channel, server, zalo_server, 7001)
    secretary = on(secretary_channel, server, zalo_server, 7002)

    welcome = (await cadre.say(await new_invite(app)))[0]  # the code alone, as a Zalo user sends it
    assert welcome.startswith("Chào mừng Test! Bạn đã được đăng ký là cán bộ của Thôn Đông")
    photos = [image_bytes(colour) for colour in ("red", "green", "blue")]
    assert (await nominate(cadre, "Nguyen Thi Lan", photos)).startswith("Đã gửi hồ sơ NT-2026-00001")

    notice = (await secretary.replies())[0]  # through the outbox, on the secretary's channel
    assert notice.startswith(t("review.new_title") + "\n" + t("review.new_line", code="NT-2026-00001",
                                                               name="Nguyen Thi Lan"))
    listing = (await secretary.choose(t("remind.open_pending")))[0]
    assert listing.startswith(t("review.pending_title", total=1, page=1, pages=1))
    opened = (await secretary.choose("NT-2026-00001 – Nguyen Thi Lan"))[0]
    assert "• Tên: Nguyen Thi Lan" in opened and "• Ảnh: 3 ảnh" in opened
    assert len(secretary.photos_received()) == 3  # before the text, each a photo the reviewer can open
    if secretary_channel == "zalo":  # fetched by "Zalo" from the bot's own signed links: the very photos
        assert secretary.photos_received() == photos
    await secretary.choose(t("review.return"))
    assert (await secretary.choose("Tên"))[0] == t("review.flagged", fields="Tên")
    reason = "Tên cần viết có dấu, đúng như trên căn cước."
    assert (await secretary.say(reason))[0] == t("review.done.return", code="NT-2026-00001")

    told = (await cadre.replies())[0]
    assert told.startswith(t("notify.returned", code="NT-2026-00001", name="Nguyen Thi Lan", reason=reason,
                             fields="Tên"))
    await outbox_drained(app)
    clock.advance(minutes=20)
    start, prompt = await cadre.choose(t("notify.fix_now"), count=2)
    assert start.startswith("Sửa hồ sơ NT-2026-00001.") and prompt.startswith(t("nom.name.prompt.ca_nhan"))
    summary = (await cadre.say("Nguyễn Thị Lan"))[0]
    assert summary.startswith(t("summary.title")) and "• Tên: Nguyễn Thị Lan" in summary
    assert (await cadre.choose(t("summary.resend")))[0] == t("fix.resubmitted", code="NT-2026-00001")

    assert t("review.resubmitted_line", code="NT-2026-00001", name="Nguyễn Thị Lan") in (await secretary.replies())[0]
    await secretary.say("cho duyet")  # typed as words, on either channel
    opened = (await secretary.choose("NT-2026-00001 – Nguyễn Thị Lan"))[0]
    assert t("review.changed", fields="Tên") in opened
    assert (await secretary.choose(t("review.approve")))[0] == t("review.done.approve", code="NT-2026-00001")
    assert (await cadre.replies())[0] == t("notify.approved", code="NT-2026-00001", name="Nguyễn Thị Lan")
    [case] = await stored_cases(app)
    assert case.status == "approved" and case.answers["photo_count"] == 3

    # The rest of the quarter: each person's reminders on their own channel.
    silent = {"zalo": ZaloPerson(zalo_server, "z7003"), "telegram": TelegramPerson(server, "7003")}
    for channel, person in silent.items():
        await add_member(app, person.id, village=f"Thôn Tây {channel}", channel=channel)
    await simulate(app, both_bots, clock, datetime(2026, 11, 23, 8, tzinfo=ZONE), datetime(2026, 12, 21, 8, tzinfo=ZONE))
    deadline_days = 5  # 14, 7, 3, 1 days before 20/12, and the morning of the day
    assert len(reminders_to(secretary)) == deadline_days
    for person in silent.values():
        assert len(reminders_to(person)) == deadline_days
        assert reminders_to(person)[0].startswith(t("remind.nudge", days=14, title="Hạn gửi danh sách quý IV/2026",
                                                    date="20/12/2026", unit=f"Thôn Tây {person.channel}"))
    assert reminders_to(cadre) == []  # their village has sent its case


@pytest.mark.parametrize("first, second", EACH_WAY)
async def test_a_person_on_both_channels_gets_each_reminder_once(server, zalo_server, both_bots, app, clock,
                                                                 first, second):
    """Registered on one channel, linked on the other (/lienket): reminders go where they wrote last, or where
    they chose; never to both."""
    person_id = await add_member(app, "z7101" if first == "zalo" else "7101", role=Role.SECRETARY, village=None,
                                 name="Chị Hoa", channel=first)
    here, there = on(first, server, zalo_server, 7101), on(second, server, zalo_server, 7101)
    code = (await here.say("/lienket"))[0].split(": ", 1)[1].split(" ", 1)[0]
    linked = (await there.say(code))[0]
    assert linked.startswith(t("link.done", channel=t(f"channel.{second}"), name="Chị Hoa"))
    assert (await here.replies())[0] == t("link.notice", channel=t(f"channel.{second}"))  # told where it was asked

    await simulate(app, both_bots, clock, datetime(2026, 12, 5, 8, tzinfo=ZONE), datetime(2026, 12, 14, 8, tzinfo=ZONE))
    assert len(reminders_to(there)) == 2 and reminders_to(here) == []  # 6/12 and 13/12, where they wrote last

    there.catch_up()
    menu = (await there.say("/nhacnho"))[0]
    assert t("nhacnho.channel", channel=t("nhacnho.channel_last")) in menu
    await there.choose(t("nhacnho.via", channel=t(f"channel.{first}")), count=2)
    await simulate(app, both_bots, clock, datetime(2026, 12, 15, 8, tzinfo=ZONE), datetime(2026, 12, 20, 8, tzinfo=ZONE))
    assert len(reminders_to(here)) == 3 and len(reminders_to(there)) == 2  # 17, 19, 20/12 where they chose
    texts = reminders_to(here) + reminders_to(there)
    assert len(set(texts)) == len(texts) == 5  # each once
    async with app.db.session() as session:
        assert len(await repo.accounts_of_person(session, person_id)) == 2


async def simulate(app, service, clock, start: datetime, end: datetime) -> None:
    """Each day at 08:00 (the frozen clock moved on), plan what is due; the running bot's outbox sends it
    through the real channels, before the next day."""
    planner = ReminderService(app.db, app.settings, clock, service.channels, send=False)
    # Days pass in milliseconds: a chat's next reminder need not wait its second.
    service.reminders.sender.limiters = {channel: RateLimiter(1000, 1000) for channel in service.channels}
    day = start
    while day <= end:
        await outbox_drained(app)  # nothing in flight when the clock jumps (its lease would seem run out)
        clock.at = day
        await planner.plan_now()
        service.reminders.sender.wake.set()
        day += timedelta(days=1)
    await outbox_drained(app)


async def outbox_drained(app) -> None:
    async def drained() -> bool:
        async with app.db.session() as session:
            return await outbox_backlog(session, app.core.clock.now()) == 0

    await wait_until(drained, what="the outbox to be sent")


def reminders_to(person: Person) -> list[str]:
    """The reminders (⏰) this person received, on their channel."""
    return [text for text in person.texts() if text.startswith("⏰")]
