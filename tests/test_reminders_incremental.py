"""Incremental planning (scheduler/incremental.py): a pass re-plans only the communes whose reminder hour came
or whose data changed (the change log, written by triggers), gives what planning everything would, and runs
off the event loop that answers people."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, insert, update
from sqlmodel import select

from scheduler import incremental
from scheduler.incremental import IncrementalPlanner, ProcessPlanning
from scheduler.outbox import OutboxSender
from scheduler.reminders import ReminderPlanner
from scheduler.service import ReminderService
from storage.models import (
    Account,
    Case,
    Commune,
    Conversation,
    Deadline,
    Membership,
    Outbox,
    Person,
    PlannerChange,
    ReminderSetting,
    Unit,
)
from tests.conftest import COMMUNE_A, COMMUNE_B, add_member
from tests.test_reminders import Recorder, at, seeded_commune


def planning_service(app, clock) -> ReminderService:
    recorder = Recorder(clock)
    service = ReminderService(app.db, app.settings, clock, {"telegram": recorder}, send=False)
    service.sender = OutboxSender(app.db, clock, {"telegram": recorder}, rate=10_000, per_chat=10_000)
    return service


class Done:
    def __init__(self, done, added: int) -> None:
        self.communes, self.provinces, self.full, self.added = done.communes, done.provinces, done.full, added


async def one_pass(app, service: ReminderService, when: datetime) -> Done:
    """A pass of the service's planner at `when` (ReminderService.plan_now): what it re-planned, and how many
    messages were new."""
    service.clock.at = when
    added = await service.plan_now()
    return Done(service.last_pass, added)


class Statements:
    """Counts the SQL statements run on the database while it is open."""

    def __init__(self, db) -> None:
        self.engine = db.engine.sync_engine
        self.count = 0

    def _seen(self, *args) -> None:
        self.count += 1

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


async def test_a_pass_with_nothing_changed_and_nothing_due_reads_only_the_change_log(app, clock):
    await seeded_commune(app)
    await add_member(app, "b1", role="secretary", commune=COMMUNE_B, village=None)
    service = planning_service(app, clock)
    first = await one_pass(app, service, at(2026, 12, 6, 7, 30))
    assert first.full and set(first.communes) == {COMMUNE_A, COMMUNE_B}
    with Statements(app.db) as statements:
        later = await one_pass(app, service, at(2026, 12, 6, 7, 59))
    assert later.communes == () and later.provinces == () and later.added == 0
    assert statements.count == 1  # the change log, and nothing else


async def test_a_change_re_plans_only_the_commune_it_concerns(app, clock):
    people = await seeded_commune(app)
    other = await add_member(app, "b1", role="secretary", commune=COMMUNE_B, village=None)
    service = planning_service(app, clock)
    moment = at(2026, 12, 8, 10)
    await one_pass(app, service, moment)

    async def replanned(change) -> tuple[str, ...]:
        nonlocal moment
        async with app.db.session() as session:
            await change(session)
        moment += timedelta(minutes=1)
        return (await one_pass(app, service, moment)).communes

    assert await replanned(lambda session: _noop(session)) == ()
    async with app.db.session() as session:
        village = (await session.exec(select(Unit).where(Unit.commune_code == COMMUNE_B))).first()
    b_unit = village.id if village else None

    async def add_case(session):
        session.add(Case(code="NT-2026-00099", commune_code=COMMUNE_B, unit_id=b_unit, nominator_id=other,
                         status="submitted", kind="ca_nhan", name="A", name_key="a", answers={},
                         submitted_at=moment, updated_at=moment))

    assert await replanned(add_case) == (COMMUNE_B,)

    async def decide_case(session):
        await session.execute(update(Case).where(Case.code == "NT-2026-00099").values(status="approved"))

    assert await replanned(decide_case) == (COMMUNE_B,)

    async def set_hour(session):
        session.add(ReminderSetting(person_id=people["silent"], kind="nudge", hour=14))

    assert await replanned(set_hour) == (COMMUNE_A,)

    async def start_draft(session):
        session.add(Conversation(person_id=people["silent"], flow="nomination", version=1,
                                 state={"step": "kind", "answers": {}}, updated_at=moment))

    assert await replanned(start_draft) == (COMMUNE_A,)

    async def answer_a_step(session):  # the draft moves on, its nominee's name unchanged: nothing to re-plan
        await session.execute(update(Conversation).where(Conversation.person_id == people["silent"])
                              .values(state={"step": "name", "answers": {"kind": "ca_nhan"}}, version=2))

    assert await replanned(answer_a_step) == ()

    async def name_the_nominee(session):
        await session.execute(update(Conversation).where(Conversation.person_id == people["silent"])
                              .values(state={"step": "birth", "answers": {"kind": "ca_nhan", "name": "Lò Văn Pó"}}))

    assert await replanned(name_the_nominee) == (COMMUNE_A,)

    async def block_the_bot(session):
        await session.execute(update(Account).where(Account.chat_id == "b1").values(unreachable_at=moment))

    assert await replanned(block_the_bot) == (COMMUNE_B,)

    async def move_province_deadline(session):  # Hà Nội's fourth quarter: every commune of Hà Nội
        session.add(Deadline(province_code="01", year=2026, quarter=4, due_at=at(2026, 12, 15, 23, 59),
                             created_at=moment))

    assert await replanned(move_province_deadline) == (COMMUNE_A,)

    async def new_member(session):
        session.add(Membership(person_id=other, role="official", commune_code=COMMUNE_A, created_at=moment))

    assert set(await replanned(new_member)) == {COMMUNE_A, COMMUNE_B}  # the person belongs to both now

    async def rename(session):
        await session.execute(update(Person).where(Person.id == people["done"]).values(last_channel="zalo"))

    assert await replanned(rename) == (COMMUNE_A,)
    async with app.db.session() as session:
        assert (await session.exec(select(PlannerChange))).all() == []  # what was read is forgotten


async def _noop(session) -> None:
    pass


async def test_a_reminder_hour_coming_re_plans_the_commune(app, clock):
    people = await seeded_commune(app)
    async with app.db.session() as session:
        session.add(ReminderSetting(person_id=people["drafting"], kind="nudge", hour=14))
    service = planning_service(app, clock)
    await one_pass(app, service, at(2026, 12, 6, 7, 59))  # Q4's 14-day reminders are due at 08:00 on 6/12
    morning = await one_pass(app, service, at(2026, 12, 6, 8, 0))
    assert morning.communes == (COMMUNE_A,) and morning.added == 2  # the secretary and the silent cadre
    assert (await one_pass(app, service, at(2026, 12, 6, 8, 1))).communes == ()
    assert (await one_pass(app, service, at(2026, 12, 6, 13, 59))).communes == ()
    afternoon = await one_pass(app, service, at(2026, 12, 6, 14, 0))  # the cadre who chose 14:00
    assert afternoon.communes == (COMMUNE_A,) and afternoon.added == 1
    assert (await one_pass(app, service, at(2026, 12, 6, 14, 1))).communes == ()


async def test_a_communes_progress_is_counted_again_only_once_its_cases_or_units_changed(app, clock, monkeypatch):
    """A planning pass keeps each commune's counts (a morning at national size spent a third of its reading on
    them); the change log says whose to count again."""
    from storage import stats

    people = await seeded_commune(app)
    await add_member(app, "b1", role="secretary", commune=COMMUNE_B, village=None)
    service = planning_service(app, clock)
    counted: list[set[str]] = []
    count = stats.progress

    async def recorded(session, communes, *args, **kwargs):
        counted.append(set(communes))
        return await count(session, communes, *args, **kwargs)

    monkeypatch.setattr(stats, "progress", recorded)
    await one_pass(app, service, at(2026, 12, 6, 7, 59))  # the first pass counts every commune
    assert set().union(*counted) == {COMMUNE_A, COMMUNE_B}
    async with app.db.session() as session:  # the silent cadre's village sends its first case of the quarter
        tay = (await session.exec(select(Unit).where(Unit.name == "Thôn Tây"))).one()
        session.add(Case(code="NT-2026-00098", commune_code=COMMUNE_A, unit_id=tay.id, nominator_id=people["silent"],
                         status="submitted", kind="ca_nhan", name="B", name_key="b", answers={},
                         submitted_at=at(2026, 12, 6, 7, 59, 30), updated_at=at(2026, 12, 6, 7, 59, 30)))
    counted.clear()
    morning = await one_pass(app, service, at(2026, 12, 6, 8, 0))  # both communes' 14-day reminders
    assert set(morning.communes) == {COMMUNE_A, COMMUNE_B}
    assert counted and set().union(*counted) == {COMMUNE_A}  # Commune B's counts were kept
    assert morning.added == 3  # both secretaries and the drafting cadre; the silent cadre's village has sent its case
    async with app.db.session() as session:
        nudged = (await session.exec(select(Outbox.person_id).where(Outbox.kind == "nudge"))).all()
    assert people["silent"] not in nudged


@pytest.mark.parametrize("passes", ["incremental", "everything, from what is kept"])
async def test_incremental_planning_gives_what_planning_everything_gives(app, clock, monkeypatch, passes):
    """Every three hours through a quarter's end, with changes along the way: after each incremental pass, every
    reminder that planning everything at that moment proposes is in the outbox. Passes that plan everything
    (a reminder morning at national size) read again only the people and progress the change log names."""
    if passes != "incremental":
        monkeypatch.setattr(incremental, "FULL_FROM", 0)
        monkeypatch.setattr(incremental, "FULL_SHARE", 0.0)
    people = await seeded_commune(app)
    await add_member(app, "b1", role="secretary", commune=COMMUNE_B, village=None)
    service = planning_service(app, clock)
    full = ReminderPlanner(app.settings)

    async def person(chat: str) -> int:
        async with app.db.session() as session:
            return (await session.exec(select(Account.person_id).where(Account.chat_id == chat))).one()

    changes = {
        at(2026, 12, 5, 10, 17): lambda s: s.add(ReminderSetting(person_id=people["silent"], kind="nudge", hour=11)),
        at(2026, 12, 6, 9, 5): lambda s: s.add(ReminderSetting(person_id=people["secretary"], kind="deadline",
                                                                 hour=15, snoozed_until=at(2026, 12, 9, 12))),
        at(2026, 12, 8, 16, 40): lambda s: s.add(Deadline(commune_code=COMMUNE_B, year=2026, quarter=0, title="Họp",
                                                           due_at=at(2026, 12, 12, 23, 59), created_at=at(2026, 12, 8))),
        at(2026, 12, 13, 8, 30): "new cadre",
        at(2026, 12, 16, 12, 3): lambda s: s.add(ReminderSetting(person_id=people["official"], kind="digest")),
        at(2026, 12, 19, 8, 20): lambda s: s.add(Deadline(province_code="79", year=2026, quarter=4,
                                                           due_at=at(2026, 12, 24, 23, 59), created_at=at(2026, 12, 19))),
    }
    moment = at(2026, 12, 4, 6)
    checked = 0
    while moment <= at(2026, 12, 29, 12):
        for when, change in list(changes.items()):
            if when <= moment:
                if change == "new cadre":
                    await add_member(app, "c9", commune=COMMUNE_A, village="Thôn Mới")
                else:
                    async with app.db.session() as session:
                        change(session)
                del changes[when]
        await one_pass(app, service, moment)
        async with app.db.session() as session:
            expected = {m.key for m in await full.plan(session, moment)}
            planned = set((await session.exec(select(Outbox.key))).all())
        assert expected <= planned, (moment, sorted(expected - planned))
        checked += len(expected)
        moment += timedelta(hours=3)
    assert checked > 100 and await person("c9")  # the walk did see reminders, and the new cadre


async def test_planning_in_its_own_process_leaves_the_event_loop_free(settings, clock):
    """A national-looking pass (thousands of people, all due at once) in the worker process: the loop keeps
    ticking through it, and what it planned is written."""
    from storage.db import Database

    db = Database(settings.database_url, schema=settings.database_schema)
    communes, per = 120, 40
    try:
        await _seed_many(db, communes, per)
        big = settings.model_copy(update={"planner_process": True})
        service = ReminderService(db, big, clock, {}, send=False)
        service.planning = ProcessPlanning(db, big)
        try:
            clock.at = at(2026, 12, 6, 8, 0)
            await asyncio.wait_for(service.planning.warm(), 60)  # the worker started (spawned) beforehand
            gaps: list[float] = []
            ticking = asyncio.Event()

            async def tick() -> None:
                last = time.perf_counter()
                while True:
                    await asyncio.sleep(0.002)
                    now = time.perf_counter()
                    gaps.append(now - last)
                    last = now
                    ticking.set()

            ticker = asyncio.create_task(tick())
            await asyncio.wait_for(ticking.wait(), 5)
            gaps.clear()
            started = time.perf_counter()
            added = await asyncio.wait_for(service.plan_now(), 120)
            took = time.perf_counter() - started
            ticker.cancel()
            assert added == communes * per  # a secretary and the cadres of silent villages, each commune
            assert len(gaps) > took / 0.05  # the loop ran all along …
            assert max(gaps) < 0.25, max(gaps)  # … never held for long (20 ms on a quiet machine)
            assert (await asyncio.wait_for(service.plan_now(), 60)) == 0
        finally:
            await service.stop()
    finally:
        await db.dispose()


async def _seed_many(db, communes: int, per: int) -> None:
    """`communes` communes of Hà Nội, each with a secretary and per-1 cadres in villages of their own."""
    from storage.communes import all_communes

    now = at(2026, 1, 1)
    chosen = [c for c in all_communes() if c.province_code == "01"][:communes]
    async with db.session() as session:
        await session.execute(insert(Commune), [dict(code=c.code, name=c.name, province_code=c.province_code,
                                                     province_name=c.province_name) for c in chosen])
        await session.execute(insert(Unit), [dict(commune_code=c.code, kind="village", name=f"Thôn {n}",
                                                  name_key=f"thon {n}") for c in chosen for n in range(per)])
        units = {(code, name): uid for uid, code, name in (await session.execute(
            select(Unit.id, Unit.commune_code, Unit.name))).all()}
        people, accounts, members = [], [], []
        for i, c in enumerate(chosen):
            for n in range(per):
                pid = 10_000 + i * per + n
                people.append(dict(id=pid, name=f"P{pid}", created_at=now))
                accounts.append(dict(person_id=pid, channel="telegram", external_id=str(pid), chat_id=str(pid)))
                members.append(dict(person_id=pid, role="secretary" if n == 0 else "cadre", commune_code=c.code,
                                    unit_id=None if n == 0 else units[(c.code, f"Thôn {n}")], created_at=now))
        await session.execute(insert(Person), people)
        await session.execute(insert(Account), accounts)
        await session.execute(insert(Membership), members)


async def test_the_planner_role_taken_again_plans_everything_once(app, clock):
    await seeded_commune(app)

    class Flaky:
        generation = 0
        holding = True

        async def hold(self, role: str) -> bool:
            return self.holding

    locks = Flaky()
    service = ReminderService(app.db, app.settings, clock, {}, locks, send=False)
    engine: IncrementalPlanner = service.planning.engine
    clock.at = at(2026, 12, 6, 9)
    await service._plan_safely()
    assert engine.communes is not None
    locks.holding = False  # another process plans meanwhile (and reads the change log)
    clock.at += timedelta(minutes=1)
    await service._plan_safely()
    locks.holding = True
    engine.communes = {COMMUNE_A: at(2030, 1, 1)}  # what this process knew is not to be trusted any more
    calls = []
    original = engine.planner.plan_scope

    async def spy(session, now, communes=None, provinces=None):
        calls.append(communes)
        return await original(session, now, communes, provinces)

    engine.planner.plan_scope = spy
    clock.at += timedelta(minutes=1)
    await service._plan_safely()
    assert calls == [None]  # everything


async def test_preview_and_full_planning_are_unchanged_by_the_state(app, clock):
    await seeded_commune(app)
    planner = ReminderPlanner(app.settings)
    async with app.db.session() as session:
        first = {m.key for m in await planner.plan(session, at(2026, 12, 13, 8))}
        again = {m.key for m in await planner.plan(session, at(2026, 12, 13, 8))}
    assert first == again and len(first) == 3
