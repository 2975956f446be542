"""The national data set of bench/national.py, written through the project's own models (bulk inserts of
their tables, in one unit of work), at a share of the country.

At scale 1: the 3,321 official communes of the 34 provinces (vietnam-provinces, storage/communes.py);
about 19 units a commune (villages or residential groups, and two organisations), 63,600 in all; about
80,000 people (one or two secretaries and a chairman per commune, a cadre per unit and a second one in
about one unit in eight, five officials per province), each with an account (a fifth on Zalo); 100,000
cases since January 2024 with statuses by age, photos (media rows only: no file is opened), their audit
events and the case counters; drafts, reminder settings, deadlines moved by provinces and communes and
one-offs; and an outbox holding one year of sent reminders, notices and digests (about 1.3 million rows).
At a smaller scale, an even slice of the communes (every province keeps its share) and of everything else.

Everything is drawn from one seeded random generator: the same scale gives the same data set. The rows of the
big tables that need no choice of their own (photos, audit events, the outbox's million reminders) are written
set-based (INSERT … SELECT over the models' tables), with the catalogue's texts made once per deadline and
offset: row by row through SQLAlchemy, seeding took minutes more.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, String, cast, func, insert, literal, null, select
from sqlalchemy import case as case_when
from sqlmodel.ext.asyncio.session import AsyncSession

from common.events import Choice, Reply, reply_to_json
from common.messages import t
from common.text import fold
from common.vocab import COMMON_ETHNIC_GROUPS, DEFAULT_MOVEMENTS, FIELDS
from storage import repo
from storage.communes import OfficialCommune, all_communes
from storage.db import Database
from storage.models import (
    Account,
    Case,
    CaseCounter,
    CaseEvent,
    CasePhoto,
    CaseStatus,
    Commune,
    Conversation,
    Deadline,
    Media,
    Membership,
    Outbox,
    OutboxStatus,
    Person,
    ReminderSetting,
    Role,
    Unit,
)

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
SEED_VERSION = 2  # change when the data set changes: cached SQLite files carry it in their name
NATIONAL_CASES = 100_000
FIRST_CASE = datetime(2024, 1, 2, 8, 0, tzinfo=ZONE)
LAST_CASE = datetime(2026, 12, 6, 7, 0, tzinfo=ZONE)  # just before the reminder morning of national.py
CURRENT_PERIOD = datetime(2026, 9, 20, 23, 59, 59, tzinfo=ZONE)  # the Q4 2026 period began after this
CREATED = datetime(2023, 12, 1, 9, 0, tzinfo=ZONE)
PROVINCE_OFFICIALS = 5
ORGANISATIONS = ("Hội Liên hiệp Phụ nữ", "Đoàn Thanh niên")
OFFSETS = (14, 7, 3, 1, 0)
HISTORY_QUARTERS = ((2025, 4), (2026, 1), (2026, 2), (2026, 3))  # one year of reminders in the outbox
CHUNK = 20_000  # rows per insert statement list: bounded memory for the outbox
FIRST_CHAT = 5_000_000
DESCRIPTION = ("{name} đã nhiều lần giúp đỡ bà con trong thôn: sửa đường liên thôn, quyên góp cho hộ nghèo, "
               "nhặt được tài sản và trả lại cho người đánh rơi. Việc làm được bà con ghi nhận và nêu gương "
               "trong buổi sinh hoạt của thôn.")
SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô")
MIDDLE = ("Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quang", "Thu", "Kim")
GIVEN = ("An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hoa", "Hùng", "Lan", "Linh", "Long", "Mai",
         "Nam", "Phong", "Phương", "Quân", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Yến")


@dataclass
class Seeded:
    """What national.py needs to know about the data set to measure it."""

    communes: int = 0
    units: int = 0
    people: int = 0
    cases: int = 0
    outbox: int = 0
    deadlines: int = 0
    drafts: int = 0
    # Chat ids of cadres without a draft or a reminder setting, one per unit, for the simulated load.
    load_cadres: list[str] = field(default_factory=list)
    largest_province: str = ""  # the province with the most communes
    province_official: str = ""  # a chat id of one of its officials
    busiest_secretary: str = ""  # a chat id of a secretary of the commune with the most cases

    def to_json(self) -> dict:
        return dict(self.__dict__)


def communes_at(scale: float) -> list[OfficialCommune]:
    """An even slice of the official communes: every province keeps its share."""
    every = all_communes()
    return [c for i, c in enumerate(every) if int((i + 1) * scale) > int(i * scale)]


def person_name(rng: random.Random) -> str:
    return f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"


def at(day: date, hour: int = 8) -> datetime:
    return datetime.combine(day, time(hour), ZONE)


async def seed(db: Database, scale: float, seed: int = 17) -> Seeded:
    rng = random.Random(seed)
    communes = communes_at(scale)
    seeded = Seeded(communes=len(communes))
    async with db.session() as session:
        await repo.ensure_default_movements(session)
        await session.execute(insert(Commune.__table__), [
            {"code": c.code, "name": c.name, "province_code": c.province_code, "province_name": c.province_name}
            for c in communes])
        units = await _units(session, rng, communes)
        seeded.units = sum(len(u) for u in units.values())
        people = await _people(session, rng, communes, units, seeded)
        cases = await _cases(session, rng, communes, units, people, scale, seeded)
        await _drafts_and_settings(session, rng, people, seeded)
        seeded.deadlines = await _deadlines(session, rng, communes)
        seeded.outbox = await _outbox(session, rng, communes, units, people, cases)
    provinces: dict[str, int] = defaultdict(int)
    for c in all_communes():
        provinces[c.province_code] += 1
    seeded.largest_province = max(provinces, key=lambda p: provinces[p])
    seeded.province_official = _on_telegram(people, people.province_officials[seeded.largest_province])
    busiest = max((c for c in cases.per_commune if any(people.channel[p] == "telegram" for p, _ in
                                                        people.secretaries[c])), key=lambda c: cases.per_commune[c])
    seeded.busiest_secretary = _on_telegram(people, people.secretaries[busiest])
    return seeded


def _on_telegram(people: People, group: list[tuple[int, str]]) -> str:
    """The chat id of the first of these people on Telegram (national.py writes as them on Telegram)."""
    return next(chat for pid, chat in group if people.channel[pid] == "telegram")


async def _ids(session: AsyncSession, table: type, rows: list[dict]) -> list[int]:
    """Insert and return the new ids in the rows' order (Core, not the ORM's bulk path: one executemany)."""
    core = table.__table__
    statement = insert(core).returning(core.c.id, sort_by_parameter_order=True)
    ids: list[int] = []
    for start in range(0, len(rows), CHUNK):
        ids += (await session.execute(statement, rows[start:start + CHUNK])).scalars().all()
    return ids


async def _insert(session: AsyncSession, table: type, rows: list[dict] | Iterator[dict]) -> int:
    """Insert in chunks of CHUNK rows, each one executemany of the table's Core insert."""
    statement = insert(table.__table__)
    count, chunk = 0, []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            await session.execute(statement, chunk)
            count, chunk = count + len(chunk), []
    if chunk:
        await session.execute(statement, chunk)
    return count + len(chunk)


# ---- units and people


async def _units(session: AsyncSession, rng: random.Random, communes: list[OfficialCommune]) -> dict[str, list[tuple[int, str]]]:
    rows = []
    for c in communes:
        village = "Tổ dân phố" if c.name.startswith("Phường") else "Thôn"
        names = [f"{village} {n}" for n in range(1, rng.randint(11, 23) + 1)] + list(ORGANISATIONS)
        rows += [{"commune_code": c.code, "kind": "organisation" if name in ORGANISATIONS else "village",
                  "name": name, "name_key": fold(name)} for name in names]
    ids = await _ids(session, Unit, rows)
    units: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for uid, row in zip(ids, rows, strict=True):
        units[row["commune_code"]].append((uid, row["name"]))
    return units


@dataclass
class People:
    # Per commune: (person id, chat id) of its secretaries; per unit: its cadres; per province: its officials.
    secretaries: dict[str, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))
    officials: dict[str, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))
    cadres: dict[int, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))
    province_officials: dict[str, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))
    channel: dict[int, str] = field(default_factory=dict)


async def _people(session: AsyncSession, rng: random.Random, communes: list[OfficialCommune],
                  units: dict[str, list[tuple[int, str]]], seeded: Seeded) -> People:
    roles: list[tuple[str, str | None, str | None, int | None]] = []  # role, commune, province, unit
    for c in communes:
        roles += [(Role.SECRETARY, c.code, None, None)] * (1 + (rng.random() < 0.5))
        roles.append((Role.OFFICIAL, c.code, None, None))
        for uid, _ in units[c.code]:
            roles += [(Role.CADRE, c.code, None, uid)] * (1 + (rng.random() < 0.12))
    for province in sorted({c.province_code for c in communes}):
        roles += [(Role.OFFICIAL, None, province, None)] * PROVINCE_OFFICIALS
    channels = ["zalo" if rng.random() < 0.2 else "telegram" for _ in roles]
    person_ids = await _ids(session, Person, [
        {"name": person_name(rng), "created_at": CREATED, "last_channel": ch} for ch in channels])
    chats = [str(FIRST_CHAT + i) for i in range(len(person_ids))]
    await _insert(session, Account, ({
        "person_id": pid, "channel": ch, "external_id": chat, "chat_id": chat,
        "unreachable_at": LAST_CASE - timedelta(days=rng.randint(1, 300)) if rng.random() < 0.02 else None}
        for pid, ch, chat in zip(person_ids, channels, chats, strict=True)))
    await _insert(session, Membership, ({
        "person_id": pid, "role": role, "commune_code": commune, "province_code": province, "unit_id": unit,
        "created_at": CREATED} for pid, (role, commune, province, unit) in zip(person_ids, roles, strict=True)))
    people = People()
    for pid, chat, ch, (role, commune, province, unit) in zip(person_ids, chats, channels, roles, strict=True):
        people.channel[pid] = ch
        if role == Role.SECRETARY:
            people.secretaries[commune].append((pid, chat))
        elif role == Role.CADRE:
            people.cadres[unit].append((pid, chat))
        elif commune:
            people.officials[commune].append((pid, chat))
        else:
            people.province_officials[province].append((pid, chat))
    seeded.people = len(person_ids)
    return people


# ---- cases


@dataclass
class Cases:
    per_commune: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    per_year: dict[int, int] = field(default_factory=lambda: defaultdict(int))


def _submitted_at(rng: random.Random) -> datetime:
    """Spread over the years, a third of them in the three weeks before a quarterly deadline."""
    span = (LAST_CASE - FIRST_CASE).total_seconds()
    if rng.random() < 0.33:
        year, quarter = rng.choice([(y, q) for y in (2024, 2025, 2026) for q in (1, 2, 3, 4)])
        due = at(date(year, quarter * 3, 20), 20)
        moment = due - timedelta(days=rng.uniform(0, 21))
        if FIRST_CASE <= moment <= LAST_CASE:
            return moment
    return FIRST_CASE + timedelta(seconds=rng.uniform(0, span))


def _status(rng: random.Random, submitted: datetime) -> str:
    S = CaseStatus
    if submitted > CURRENT_PERIOD:
        choices = ((S.SUBMITTED, 50), (S.RETURNED, 10), (S.RESUBMITTED, 5), (S.APPROVED, 25), (S.REJECTED, 5),
                   (S.WITHDRAWN, 5))
    else:
        choices = ((S.APPROVED, 55), (S.COMMENDED, 20), (S.REJECTED, 12), (S.WITHDRAWN, 8), (S.RETURNED, 5))
    return rng.choices([s for s, _ in choices], [w for _, w in choices])[0]


async def _cases(session: AsyncSession, rng: random.Random, communes: list[OfficialCommune],
                 units: dict[str, list[tuple[int, str]]], people: People, scale: float, seeded: Seeded) -> Cases:
    weights = list(itertools.accumulate(rng.uniform(0.3, 1.7) for _ in communes))  # some communes send more
    total = round(NATIONAL_CASES * scale)
    drawn = sorted(((_submitted_at(rng), rng.choices(communes, cum_weights=weights)[0]) for _ in range(total)),
                   key=lambda pair: pair[0])
    movements = list(DEFAULT_MOVEMENTS)
    numbers: dict[int, int] = defaultdict(int)
    rows, photos, decisions = [], [], []
    for submitted, commune in drawn:
        uid, unit_name = rng.choice(units[commune.code])
        nominator = rng.choice(people.cadres[uid])[0]
        kind = rng.choices(("ca_nhan", "tap_the", "ho_gia_dinh"), (70, 20, 10))[0]
        name = person_name(rng) if kind != "tap_the" else f"Chi hội Phụ nữ {unit_name}"
        status = _status(rng, submitted)
        numbers[submitted.year] += 1
        answers = {"kind": kind, "name": name, "address": f"{unit_name}, {commune.name}, {commune.province_name}",
                   "field": rng.choice(FIELDS), "movement": rng.choice(movements),
                   "description": DESCRIPTION.format(name=name),
                   "when": {"start": submitted.date().isoformat(), "precision": "day",
                            "label": f"{submitted:%d/%m/%Y}"},
                   "phone": f"09{rng.randint(10_000_000, 99_999_999)}", "consent": rng.choice(("yes", "no")),
                   "photo_count": len(rows) % 3 + 1}  # as _photos_and_events counts them
        if kind == "ca_nhan":
            answers |= {"birth_year": rng.randint(1950, 2008), "ethnicity": rng.choice(COMMON_ETHNIC_GROUPS),
                        "position": "Nông dân"}
        else:
            answers |= {"rep_name": person_name(rng), "rep_role": "Chi hội trưởng"}
        decided = submitted + timedelta(days=rng.uniform(1, 20))
        rows.append({
            "code": f"NT-{submitted.year}-{numbers[submitted.year]:05d}", "commune_code": commune.code,
            "unit_id": uid, "nominator_id": nominator, "status": status, "kind": kind, "name": name,
            "name_key": fold(name), "field": answers["field"], "movement": answers["movement"], "answers": answers,
            "submitted_at": submitted, "updated_at": min(decided, LAST_CASE) if status != "submitted" else submitted,
            "version": 2 if status == CaseStatus.RESUBMITTED else 1,
            "reason": "Bổ sung ảnh minh chứng" if status in (CaseStatus.RETURNED, CaseStatus.REJECTED) else "",
            "fix_fields": ["photos"] if status == CaseStatus.RETURNED else [],
            "commendation": {"form": "Giấy khen của Chủ tịch UBND xã", "decision": "15/QĐ-UBND",
                             "date": f"{decided:%d/%m/%Y}"} if status == CaseStatus.COMMENDED else {}})
        photos.append(answers["photo_count"])
        decisions.append(decided)
        seeded.cases += 1
    ids = await _ids(session, Case, rows)
    found = Cases()
    for year, last in numbers.items():
        await session.execute(insert(CaseCounter.__table__), [{"year": year, "last": last}])
        found.per_year[year] = last
    await _photos_and_events(session, ids[0] if ids else 0)
    for row in rows:
        found.per_commune[row["commune_code"]] += 1
    return found


async def _photos_and_events(session: AsyncSession, first_id: int) -> None:
    """Each case's photos (media rows; no file exists) and its audit events, set-based from the cases."""
    case, media, photo, event = Case.__table__, Media.__table__, CasePhoto.__table__, CaseEvent.__table__
    for n in range(3):
        has = ((case.c.id - first_id) % 3) + 1 > n  # the case's answers say (index % 3) + 1 photos
        sha = literal("f" * 40) + cast(case.c.id, String) + literal(f":{n}")
        await session.execute(media.insert().from_select(
            ["sha256", "size", "width", "height", "mime_type", "created_at"],
            select(sha, literal(2_400_000) + case.c.id % 1_000_000, literal(4000), literal(3000),
                   literal("image/jpeg"), case.c.submitted_at).where(has)))
        await session.execute(photo.insert().from_select(
            ["case_id", "sha256", "position"], select(case.c.id, sha, literal(n)).where(has)))
    submitted = literal(CaseStatus.SUBMITTED.value)
    columns = ["case_id", "actor_id", "at", "from_status", "to_status", "reason", "details"]
    await session.execute(event.insert().from_select(columns, select(
        case.c.id, case.c.nominator_id, case.c.submitted_at, null(), submitted, literal(""),
        literal({}, type_=JSON))))
    m = Membership.__table__
    secretaries = (select(m.c.commune_code, func.min(m.c.person_id).label("person_id"))
                   .where(m.c.role == Role.SECRETARY.value).group_by(m.c.commune_code).subquery())
    reviewer = secretaries.c.person_id
    reviewed = case.join(secretaries, secretaries.c.commune_code == case.c.commune_code)
    first = case_when((case.c.status == CaseStatus.COMMENDED.value, literal(CaseStatus.APPROVED.value)),
                      else_=case.c.status)
    actor = case_when((case.c.status == CaseStatus.WITHDRAWN.value, case.c.nominator_id), else_=reviewer)
    await session.execute(event.insert().from_select(columns, select(
        case.c.id, actor, case.c.updated_at, submitted, first, case.c.reason, literal({}, type_=JSON))
        .select_from(reviewed).where(case.c.status != CaseStatus.SUBMITTED.value)))
    await session.execute(event.insert().from_select(columns, select(
        case.c.id, reviewer, case.c.updated_at, literal(CaseStatus.APPROVED.value), case.c.status, literal(""),
        case.c.commendation).select_from(reviewed).where(case.c.status == CaseStatus.COMMENDED.value)))


# ---- drafts, reminder settings, deadlines


async def _drafts_and_settings(session: AsyncSession, rng: random.Random, people: People, seeded: Seeded) -> None:
    drafts, settings = [], []
    for _uid, cadres in people.cadres.items():
        for n, (pid, chat) in enumerate(cadres):
            if rng.random() < 0.05:  # a draft left half way
                name = person_name(rng)
                state = {"step": "description", "answers": {"kind": "ca_nhan", "name": name, "birth_year": 1975,
                                                             "ethnicity": "Kinh", "position": "Nông dân"},
                         "history": ["kind", "name", "birth_year", "ethnicity", "position", "address", "field",
                                     "movement"],
                         "editing": False, "confirming_cancel": False, "picking_edit": False, "queue": [],
                         "data": {}}
                drafts.append({"person_id": pid, "flow": "nomination", "state": state, "version": 5,
                               "updated_at": LAST_CASE - timedelta(days=rng.randint(1, 60))})
                continue
            roll = rng.random()
            if roll < 0.03:
                settings.append({"person_id": pid, "kind": "nudge", "enabled": False})
            elif roll < 0.05:
                settings.append({"person_id": pid, "kind": "nudge", "enabled": True,
                                 "snoozed_until": LAST_CASE + timedelta(days=4)})
            elif roll < 0.08:
                settings.append({"person_id": pid, "kind": "nudge", "enabled": True, "hour": rng.choice((9, 10, 17))})
            elif n == 0 and people.channel[pid] == "telegram":  # the load writes on Telegram
                seeded.load_cadres.append(chat)
    for secretaries in people.secretaries.values():
        for pid, _ in secretaries:
            if rng.random() < 0.05:
                settings.append({"person_id": pid, "kind": "deadline", "enabled": True, "hour": rng.choice((7, 9))})
    officials = [p for group in (*people.officials.values(), *people.province_officials.values()) for p in group]
    for pid, _ in officials:
        for kind in ("digest", "overdue"):
            if rng.random() < 0.3:
                settings.append({"person_id": pid, "kind": kind, "enabled": True})
    await _insert(session, Conversation, drafts)
    await _insert(session, ReminderSetting, ({"snoozed_until": None, "hour": None, **s} for s in settings))
    seeded.drafts = len(drafts)
    rng.shuffle(seeded.load_cadres)
    seeded.load_cadres = seeded.load_cadres[:2000]


async def _deadlines(session: AsyncSession, rng: random.Random, communes: list[OfficialCommune]) -> int:
    rows = []
    provinces = sorted({c.province_code for c in communes})
    for province in provinces:
        roll = rng.random()
        if roll < 0.12:  # a province sends its Q4 list earlier this year
            rows.append({"province_code": province, "year": 2026, "quarter": 4, "due_at": at(date(2026, 12, 15), 17)})
        elif roll < 0.25:
            rows.append({"province_code": province, "year": 2026, "quarter": 2, "due_at": at(date(2026, 6, 15), 17)})
        if rng.random() < 0.2:
            rows.append({"province_code": province, "year": 2025, "quarter": 4, "due_at": at(date(2025, 12, 18), 17)})
        rows.append({"province_code": province, "year": 2026, "quarter": 0, "title": "Báo cáo sơ kết 6 tháng",
                     "due_at": at(date(2026, 6, 30), 17)})
    for c in communes:
        if rng.random() < 0.03:
            year, quarter = rng.choice(((2025, 3), (2026, 1), (2026, 3), (2026, 4)))
            day = date(year, quarter * 3, rng.choice((10, 15, 18)))
            rows.append({"commune_code": c.code, "year": year, "quarter": quarter, "due_at": at(day, 17)})
        for _ in range(rng.choices((0, 1, 2, 3), (80, 12, 5, 3))[0]):  # one-offs of the commune
            year = rng.choice((2024, 2025, 2026))
            day = date(year, rng.randint(1, 12), rng.randint(1, 28))
            rows.append({"commune_code": c.code, "year": year, "quarter": 0,
                         "title": f"Kế hoạch thi đua năm {year}", "due_at": at(day, 17)})
    return await _insert(session, Deadline, ({"province_code": None, "commune_code": None, "title": "",
                                              "created_at": CREATED, **r} for r in rows))


# ---- the outbox: one year of what was sent


async def _outbox(session: AsyncSession, rng: random.Random, communes: list[OfficialCommune],
                  units: dict[str, list[tuple[int, str]]], people: People, cases: Cases) -> int:
    """One year of sent messages. The reminders (over a million rows) are written set-based, one INSERT …
    SELECT over the memberships per deadline, offset and kind, with the catalogue's texts; the digests
    row by row."""
    count = 0
    for year, quarter in HISTORY_QUARTERS:
        due = at(date(year, quarter * 3, 20), 23)
        title = t("deadline.quarterly", period=f"Quý {quarter}/{year}")
        for offset in OFFSETS:
            planned = at(due.date() - timedelta(days=offset))
            names = [name for _, name in units[communes[0].code]]
            text = "\n".join([t("remind.days_left", days=offset, title=title, date=f"{due:%d/%m/%Y}"),
                              t("remind.period", submitted=4, pending=2, returned=1),
                              t("remind.silent", units=", ".join(names[:10])),
                              t("remind.quota", year=year, forwarded=1, quota=2)])
            pending = reply_to_json(Reply(text, (Choice(t("remind.open_pending"), "cmd:choduyet"),)))
            nudge = reply_to_json(Reply(
                t("remind.nudge", days=offset, title=title, date=f"{due:%d/%m/%Y}", unit=names[0]),
                (Choice(t("menu.nominate"), "cmd:decu"),)))
            for kind, role, payload, share in (("deadline", Role.SECRETARY, pending, 1),
                                               ("nudge", Role.CADRE, nudge, 0.8)):
                count += await _reminders(session, kind, role, f"q{year}-{quarter}", offset, payload, planned,
                                          share)
    count += await _notices(session, LAST_CASE - timedelta(days=365))
    return count + await _insert(session, Outbox, _digest_rows(rng, communes, people))


async def _reminders(session: AsyncSession, kind: str, role: Role, due_key: str, offset: int, payload: dict,
                     planned: datetime, share: float) -> int:
    """A reminder of this kind to `share` of the members with this role (chosen by their person id)."""
    m, a, outbox = Membership.__table__, Account.__table__, Outbox.__table__
    key = literal(f"{kind}:") + cast(m.c.person_id, String) + literal(f":{due_key}:{offset}")
    picked = (m.c.person_id * 7 + offset * 13) % 100 < int(share * 100)
    status = case_when(((m.c.person_id + offset) % 100 == 0, literal(OutboxStatus.UNREACHABLE.value)),
                       ((m.c.person_id + offset) % 200 == 1, literal(OutboxStatus.FAILED.value)),
                       else_=literal(OutboxStatus.SENT.value))
    sent = planned + timedelta(minutes=7)
    rows = select(key, m.c.person_id, a.c.channel, a.c.chat_id, literal(kind), literal(payload, type_=JSON),
                  status, literal(planned, type_=outbox.c.due_at.type), literal(1), literal(""),
                  literal(planned, type_=outbox.c.created_at.type),
                  case_when((status == OutboxStatus.SENT.value, literal(sent, type_=outbox.c.sent_at.type)),
                            else_=null())) \
        .select_from(m.join(a, a.c.person_id == m.c.person_id)).where(m.c.role == role.value, picked)
    result = await session.execute(outbox.insert().from_select(
        ["key", "person_id", "channel", "chat_id", "kind", "payload", "status", "due_at", "attempts", "last_error",
         "created_at", "sent_at"], rows))
    return result.rowcount


async def _notices(session: AsyncSession, since: datetime) -> int:
    """The notice of each new case of the last year to its commune's secretaries."""
    m, a, case, outbox = Membership.__table__, Account.__table__, Case.__table__, Outbox.__table__
    key = literal("newcases:") + cast(m.c.person_id, String) + literal(":") + cast(case.c.id, String) + literal(":1")
    payload = reply_to_json(Reply(t("review.new_title") + "\n" + t("review.new_line", code="NT-2026-00042",
                                                                   name="Nguyễn Thị Lan"),
                                  (Choice(t("remind.open_pending"), "cmd:choduyet"),)))
    rows = select(key, m.c.person_id, a.c.channel, a.c.chat_id, literal("newcases"), literal(payload, type_=JSON),
                  literal(OutboxStatus.SENT.value), case.c.submitted_at, literal(1), literal(""),
                  case.c.submitted_at, case.c.submitted_at) \
        .select_from(case.join(m, m.c.commune_code == case.c.commune_code)
                     .join(a, a.c.person_id == m.c.person_id)) \
        .where(m.c.role == Role.SECRETARY.value, case.c.submitted_at > literal(since, type_=case.c.submitted_at.type))
    result = await session.execute(outbox.insert().from_select(
        ["key", "person_id", "channel", "chat_id", "kind", "payload", "status", "due_at", "attempts", "last_error",
         "created_at", "sent_at"], rows))
    return result.rowcount


def _sent(rng: random.Random, key: str, pid: int, chat: str, channel: str, kind: str, payload: dict,
          due: datetime) -> dict:
    roll = rng.random()
    status = OutboxStatus.SENT if roll < 0.98 else OutboxStatus.UNREACHABLE if roll < 0.99 else \
        OutboxStatus.STALE if roll < 0.995 else OutboxStatus.FAILED
    sent = due + timedelta(seconds=rng.uniform(1, 1800))
    return {"key": key, "person_id": pid, "channel": channel, "chat_id": chat, "kind": kind,
            "payload": payload, "status": status, "due_at": due, "stale_at": None, "retry_at": None,
            "attempts": 1, "lease_until": None, "last_error": "" if status == OutboxStatus.SENT else "403 Forbidden",
            "created_at": due, "sent_at": sent if status == OutboxStatus.SENT else None}


def _digest_rows(rng: random.Random, communes: list[OfficialCommune], people: People) -> Iterator[dict]:
    monday = date(2025, 12, 8)
    digesting = [p for group in people.province_officials.values() for p in group[:2]]
    while monday < LAST_CASE.date():
        lines = [t("remind.digest_title", week=f"{monday:%d/%m/%Y}")] + [
            t("remind.digest_line", commune=c.name, submitted=3, pending=1, forwarded=1, quota=2)
            for c in communes[:30]]
        for pid, chat in digesting:
            yield _sent(rng, f"digest:{pid}:{monday.isoformat()}", pid, chat, people.channel[pid], "digest",
                        {"text": "\n".join(lines)}, at(monday))
        monday += timedelta(days=7)
