"""Reminders over a whole quarter on the injected clock: who receives what, by day; misfires; preferences."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlmodel import select

from common.events import Reply
from common.messages import t
from scheduler.outbox import Message, OutboxSender, enqueue
from scheduler.reminders import ReminderPlanner
from scheduler.service import ReminderService
from storage.models import Case, Conversation, Deadline, Outbox, ReminderSetting
from tests.chat import Chat
from tests.cli import run_cli_async
from tests.conftest import ZONE, add_member

DESCRIPTION = "Ông Tư sửa miễn phí đường dây điện cho cả xóm sau cơn bão số 3."


class Recorder:
    """A channel that writes down what it was asked to send, with the (injected) time."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.sent: list[tuple[datetime, str, Reply]] = []

    async def deliver(self, chat_id: str, reply: Reply, once: str = "") -> None:
        self.sent.append((self.clock.now(), chat_id, reply))


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZONE)


async def seeded_commune(app) -> dict[str, int]:
    """A ward with four villages: one has sent a case, one has not, one cadre muted, one has a draft."""
    people = {
        "secretary": await add_member(app, "s1", role="secretary", village=None, name="Thư ký"),
        "official": await add_member(app, "o1", role="official", village=None, name="Chủ tịch"),
        "done": await add_member(app, "c1", village="Thôn Đông"),
        "silent": await add_member(app, "c2", village="Thôn Tây"),
        "muted": await add_member(app, "c3", village="Thôn Nam"),
        "drafting": await add_member(app, "c4", village="Thôn Bắc"),
    }
    async with app.db.session() as session:
        from storage.models import Unit  # the unit of the cadre who has already sent a case

        dong = (await session.exec(select(Unit).where(Unit.name == "Thôn Đông"))).one()
        session.add(Case(code="NT-2026-00001", commune_code="00070", unit_id=dong.id, nominator_id=people["done"],
                         status="submitted", kind="ca_nhan", name="Trần Văn Tư", name_key="tran van tu",
                         answers={}, submitted_at=at(2026, 10, 5, 9), updated_at=at(2026, 10, 5, 9)))
        session.add(Conversation(person_id=people["drafting"], flow="nomination", version=1,
                                 state={"step": "birth_year", "answers": {"kind": "ca_nhan", "name": "Lò Văn Pó"}},
                                 updated_at=at(2026, 11, 1)))
        session.add(ReminderSetting(person_id=people["muted"], kind="nudge", enabled=False))
        session.add(ReminderSetting(person_id=people["official"], kind="overdue", enabled=True))
        session.add(Deadline(commune_code="00070", year=2026, quarter=0, title="Hạn gửi báo cáo phong trào",
                             due_at=at(2026, 11, 30, 23, 59, 59), created_at=at(2026, 9, 1)))
    return people


async def simulate(app, clock, start: datetime, end: datetime, hours=(8, 15)) -> Recorder:
    recorder = Recorder(clock)
    service = ReminderService(app.db, app.settings, clock, {"telegram": recorder})
    service.sender = OutboxSender(app.db, clock, {"telegram": recorder}, rate=10_000, per_chat=10_000)
    day = start
    while day <= end:
        for hour in hours:
            clock.at = day.replace(hour=hour)
            await service.run_once()
        day += timedelta(days=1)
    return recorder


def by_person(recorder: Recorder, people: dict[str, int], chats: dict[str, str]) -> dict[str, list]:
    names = {chat: name for name, chat in chats.items()}
    received = defaultdict(list)
    for moment, chat_id, reply in recorder.sent:
        received[names[chat_id]].append((moment.date(), reply.text))
    return received


async def test_a_whole_quarter_of_reminders(app, clock):
    people = await seeded_commune(app)
    recorder = await simulate(app, clock, at(2026, 9, 21), at(2026, 12, 27))
    chats = {"secretary": "s1", "official": "o1", "done": "c1", "silent": "c2", "muted": "c3", "drafting": "c4"}
    got = by_person(recorder, people, chats)
    q4_days = [date(2026, 12, d) for d in (6, 13, 17, 19, 20)]
    report_days = [date(2026, 11, d) for d in (16, 23, 27, 29, 30)]
    # The quarter starts the day after Q3's deadline, with nothing sent up for Q3: overdue notices then too.
    overdue_days = [date(2026, 9, 21), date(2026, 12, 21)]
    assert [d for d, _ in got["secretary"]] == overdue_days[:1] + report_days + q4_days + overdue_days[1:]
    assert [d for d, _ in got["silent"]] == q4_days
    assert [d for d, _ in got["drafting"]] == q4_days
    assert [d for d, _ in got["official"]] == overdue_days  # opted in to overdue notices only
    assert "done" not in got and "muted" not in got  # a village that has sent, a cadre who muted
    assert all(moment.hour == 8 for moment, _, _ in recorder.sent)  # working hours, at the set hour

    first_q4 = got["secretary"][6][1]
    assert first_q4.startswith(t("remind.days_left", days=14, title="Hạn gửi danh sách quý IV/2026",
                                 date="20/12/2026"))
    assert t("remind.period", submitted=1, pending=1, returned=0) in first_q4
    assert t("remind.silent", units="Thôn Bắc, Thôn Nam, Thôn Tây") in first_q4
    assert t("remind.quota", year=2026, forwarded=0, quota=2) in first_q4
    assert got["secretary"][10][1].startswith(t("remind.today", title="Hạn gửi danh sách quý IV/2026",
                                               date="20/12/2026"))
    assert got["secretary"][1][1] == t("remind.days_left", days=14, title="Hạn gửi báo cáo phong trào",
                                       date="30/11/2026")
    assert got["silent"][0][1] == t("remind.nudge", days=14, title="Hạn gửi danh sách quý IV/2026",
                                    date="20/12/2026", unit="Thôn Tây")
    assert "Lò Văn Pó" in got["drafting"][-1][1]
    assert got["official"][1][1] == t("remind.overdue", title="Hạn gửi danh sách quý IV/2026", date="20/12/2026",
                                      commune="Phường Hoàn Kiếm")
    buttons = {chat: reply.choices for _, chat, reply in recorder.sent}
    assert [c.value for c in buttons["c2"]] == ["cmd:decu"] and [c.value for c in buttons["c4"]] == ["draft:continue"]


async def test_a_planner_that_was_down_sends_only_the_latest_due_reminder(app, clock):
    await seeded_commune(app)
    recorder = await simulate(app, clock, at(2026, 12, 18), at(2026, 12, 18), hours=(10,))  # down 6..17/12
    async with app.db.session() as session:
        keys = sorted(row.key for row in (await session.exec(select(Outbox))).all() if row.kind == "deadline")
    assert [k.rsplit(":", 1)[1] for k in keys] == ["3"]  # the 3-day reminder, late; not the 14- and 7-day ones
    [(_, _, reply)] = [s for s in recorder.sent if s[1] == "s1"]
    assert reply.text.startswith("⏰ Còn 2 ngày")  # and it says how many days are really left
    late = await simulate(app, clock, at(2026, 12, 21), at(2026, 12, 21), hours=(22,))  # after the deadline
    assert [r.text[:10] for _, chat, r in late.sent if chat == "c2"] == []  # stale: nothing before-deadline


async def test_quiet_hours_hold_a_late_reminder_until_morning(app, clock):
    await seeded_commune(app)
    recorder = Recorder(clock)
    service = ReminderService(app.db, app.settings, clock, {"telegram": recorder})
    service.sender = OutboxSender(app.db, clock, {"telegram": recorder}, rate=10_000, per_chat=10_000)
    clock.at = at(2026, 12, 13, 22, 30)  # back up late in the evening
    await service.run_once()
    assert recorder.sent == []
    async with app.db.session() as session:
        due = {row.due_at.astimezone(ZONE) for row in (await session.exec(select(Outbox))).all()}
    assert due == {at(2026, 12, 14, 7)}
    clock.at = at(2026, 12, 14, 7, 0)
    await service.run_once()
    assert {chat for _, chat, _ in recorder.sent} == {"s1", "c2", "c4"}


async def test_planning_twice_or_from_two_processes_gives_one_message(app, settings, clock):
    from bot.app import build_app

    await seeded_commune(app)
    clock.at = at(2026, 12, 6, 9)
    other = await build_app(settings, clock=clock, migrate=False)
    try:
        planner = ReminderPlanner(settings)

        async def plan(application) -> int:
            async with application.db.session() as session:
                return await enqueue(session, await planner.plan(session, clock.now()), clock.now())

        import asyncio

        results = await asyncio.gather(plan(app), plan(other), plan(app))
        async with app.db.session() as session:
            rows = (await session.exec(select(Outbox))).all()
        assert len(rows) == 3 == sum(results)  # secretary, silent cadre, drafting cadre: once each
    finally:
        await other.close()


async def test_preferences_by_chat(app, clock):
    await seeded_commune(app)
    clock.at = at(2026, 12, 5, 10)
    cadre, secretary = Chat(app.core, "c2"), Chat(app.core, "s1")
    replies = await cadre.say("/nhacnho")
    assert "Nhắc đề cử khi thôn chưa có hồ sơ: đang bật" in replies[0].text
    await cadre.press("pref:nudge:snooze")
    replies = await cadre.say("/nhacnho gio 14")
    assert replies[0].text == t("nhacnho.hour_set", hour=14)
    replies = await secretary.press("pref:deadline:off")  # not theirs to mute
    assert replies[0].text == t("nhacnho.not_allowed")
    await secretary.say("/nhacnho gio 9")
    recorder = await simulate(app, clock, at(2026, 12, 6), at(2026, 12, 13), hours=(8, 9, 14))
    sent = {(chat, moment.date(), moment.hour) for moment, chat, _ in recorder.sent}
    assert ("s1", date(2026, 12, 6), 9) in sent and ("s1", date(2026, 12, 13), 9) in sent
    assert ("c2", date(2026, 12, 13), 14) in sent  # snoozed for 7 days from 5/12: back by 13/12, at 14:00
    assert not any(chat == "c2" and day == date(2026, 12, 6) for chat, day, _ in sent)


async def test_han_shows_deadlines_and_what_is_missing(app, clock):
    await seeded_commune(app)
    replies = await Chat(app.core, "c2").say("/han")
    text = replies[0].text
    assert t("han.line", title="Hạn gửi báo cáo phong trào", date="30/11/2026", days=8) in text
    assert t("han.line", title="Hạn gửi danh sách quý IV/2026", date="20/12/2026", days=28) in text
    assert t("han.unit_missing", unit="Thôn Tây") in text
    assert t("han.unit_done", unit="Thôn Đông") in (await Chat(app.core, "c1").say("/han"))[0].text
    secretary = (await Chat(app.core, "s1").say("/han"))[0].text
    assert t("remind.silent", units="Thôn Bắc, Thôn Nam, Thôn Tây") in secretary


async def test_a_secretary_adds_a_one_off_deadline_by_chat(app, clock):
    await seeded_commune(app)
    secretary = Chat(app.core, "s1")
    assert (await secretary.say("/themhan"))[0].text == t("han.add_usage")
    assert (await secretary.say("/themhan 31/02/2027 Sai ngày"))[0].text == t("han.add_bad_date")
    assert (await secretary.say("/themhan 01/01/2020 Đã qua"))[0].text == t("han.add_bad_date")
    replies = await secretary.say("/themhan 15/04/2027 Gửi kế hoạch thi đua năm")
    assert replies[0].text == t("han.added", title="Gửi kế hoạch thi đua năm", date="15/04/2027")
    assert (await Chat(app.core, "c2").say("/themhan 15/04/2027 X"))[0].text == t("role.not_allowed")
    async with app.db.session() as session:
        [row] = (await session.exec(select(Deadline).where(Deadline.title == "Gửi kế hoạch thi đua năm"))).all()
    assert row.commune_code == "00070" and row.due_at.astimezone(ZONE) == at(2027, 4, 15, 23, 59, 59, 999999)


async def test_officials_who_opt_in_get_a_weekly_digest_on_monday(app, clock):
    await seeded_commune(app)
    official = Chat(app.core, "o1")
    menu = (await official.say("/nhacnho"))[0]
    assert "Tóm tắt hằng tuần: đang tắt" in menu.text
    await official.press("pref:digest:on")
    recorder = await simulate(app, clock, at(2026, 11, 23), at(2026, 12, 6), hours=(8,))
    digests = [(moment.date(), reply.text) for moment, chat, reply in recorder.sent
               if chat == "o1" and reply.text.startswith("📊")]
    assert [d for d, _ in digests] == [date(2026, 11, 23), date(2026, 11, 30)]  # Mondays, once each
    assert t("remind.digest_line", commune="Phường Hoàn Kiếm", submitted=1, pending=1, forwarded=0,
             quota=2) in digests[0][1]


async def test_cli_preview_shows_who_would_get_what_without_sending(app, settings, monkeypatch, capsys,
                                                                    in_empty_folder):
    await seeded_commune(app)
    status, out, _ = await run_cli_async(["remind", "preview", "--at", "2026-12-13T08:00"], settings, monkeypatch,
                                         capsys)
    assert status == 0 and "Lúc 13/12/2026 08:00: 3 nhắc nhở (chưa gửi)." in out
    assert "deadline → người" in out and "nudge    → người" in out and "draft    → người" in out
    async with app.db.session() as session:
        assert (await session.exec(select(Outbox))).all() == []  # nothing planned, nothing sent
    status, out, _ = await run_cli_async(["deadline", "move", "--commune", "00070", "--quarter", "4",
                                          "--date", "2026-12-15"], settings, monkeypatch, capsys)
    assert status == 0
    status, out, _ = await run_cli_async(["remind", "preview", "--at", "2026-12-13T08:00"], settings, monkeypatch,
                                         capsys)
    assert "Còn 2 ngày đến Hạn gửi danh sách quý IV/2026 (15/12/2026)" in out  # the moved deadline: 2 days left


async def test_moving_the_fourth_quarter_into_january_keeps_its_year(app, settings, monkeypatch, capsys,
                                                                     in_empty_folder):
    await seeded_commune(app)
    status, out, _ = await run_cli_async(["deadline", "move", "--commune", "00070", "--quarter", "4",
                                          "--date", "2027-01-05"], settings, monkeypatch, capsys)
    assert status == 0 and "quý 4/2026" in out
    status, out, _ = await run_cli_async(["remind", "preview", "--at", "2026-12-22T08:00"], settings, monkeypatch,
                                         capsys)
    assert "Còn 14 ngày đến Hạn gửi danh sách quý IV/2026 (05/01/2027)" in out


async def test_a_draft_reminder_never_lands_between_the_cadres_answers_nor_after_the_draft_is_gone(app, clock):
    people = await seeded_commune(app)
    clock.at = at(2026, 11, 23, 9)
    recorder = Recorder(clock)
    service = ReminderService(app.db, app.settings, clock, {"telegram": recorder})
    cadre = people["drafting"]

    async def remind(key: str, answered_ago: timedelta | None) -> list[str]:
        async with app.db.session() as session:
            conversation = (await session.exec(select(Conversation).where(Conversation.person_id == cadre))).first()
            if answered_ago is None:
                await session.delete(conversation)  # sent or cancelled
            else:
                conversation.updated_at = clock.now() - answered_ago
            await enqueue(session, [Message(key, cadre, "telegram", "c4", "draft", Reply("📝 Hồ sơ làm dở"),
                                            clock.now(), extra={"person": cadre})], clock.now())
        recorder.sent.clear()
        await service.sender.run_until_idle()
        return [chat for _, chat, _ in recorder.sent]

    assert await remind("draft:1", timedelta(minutes=1)) == []  # the cadre is typing it now
    assert await remind("draft:2", timedelta(hours=2)) == ["c4"]  # left alone for a while: reminded
    assert await remind("draft:3", None) == []  # nothing left to remind of
