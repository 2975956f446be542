"""Queries: the only place that knows how things are found and written in the database."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, case, delete, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.expression import Executable
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.text import fold, looks_alike
from common.vocab import DEFAULT_MOVEMENTS
from storage.communes import OfficialCommune
from storage.db import GroupCommit, GroupStatement, InlineStatements, sqlite_time
from storage.models import (
    Account,
    Case,
    CaseCounter,
    CaseEvent,
    CasePhoto,
    Commune,
    Conversation,
    Deadline,
    Invite,
    LinkCode,
    Media,
    Membership,
    Movement,
    Outbox,
    OutboxStatus,
    Person,
    ReminderSetting,
    Role,
    SentFile,
    Unit,
)
from storage.sql import written_in

log = logging.getLogger(__name__)

class StaleConversation(Exception):
    """Someone else (another worker, another photo of the album) saved the conversation first."""


def _dialect(target: AsyncSession | AsyncConnection) -> str:
    bind = target.bind if isinstance(target, AsyncSession) else target
    return "postgresql" if bind is not None and bind.dialect.name == "postgresql" else "sqlite"


def _per_dialect(build: Callable[[Callable], Executable]) -> dict[str, Executable]:
    """A statement built once for each database we run on (their INSERT … ON CONFLICT differ)."""
    return {"postgresql": build(postgresql.insert), "sqlite": build(sqlite.insert)}


def _insert(session: AsyncSession, table: type):
    return (postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert)(table)


# ---- people
async def account_of(session: AsyncSession, channel: str, external_id: str) -> Account | None:
    result = await session.exec(
        select(Account).where(Account.channel == channel, Account.external_id == external_id)
    )
    return result.first()


# Built once: these run for every message, and building a statement costs more than running it.
_conversations = Conversation.__table__  # Core, not ORM: no session bookkeeping for what is only read or
# written blind
_SAVED_COLUMNS = (_conversations.c.id, _conversations.c.person_id, _conversations.c.flow, _conversations.c.state,
                  _conversations.c.version, _conversations.c.updated_at)


@dataclass(frozen=True, slots=True)
class SavedConversation:
    """A person's conversation as last read or written, for the core to read: building the table model
    instead cost more than the write that saved it."""

    id: int
    person_id: int
    flow: str
    state: dict
    version: int
    updated_at: datetime


_IDENTITY = (
    select(Account, Person, Membership, *_SAVED_COLUMNS)
    .join(Person, Person.id == Account.person_id)
    .outerjoin(Membership, (Membership.person_id == Account.person_id) & Membership.revoked_at.is_(None))
    .outerjoin(Conversation, Conversation.person_id == Account.person_id)
    .where(Account.channel == bindparam("channel"), Account.external_id == bindparam("external_id"))
    .order_by(Membership.id)
)


async def identity(session: AsyncSession, channel: str, external_id: str,
                   ) -> tuple[Account, Person, list[Membership], SavedConversation | None] | None:
    """The account, the person, their active roles and open conversation, in one query."""
    rows = (await session.exec(_IDENTITY, params={"channel": channel, "external_id": external_id})).all()
    if not rows:
        return None
    account, person, _, *saved = rows[0]
    conversation = SavedConversation(*saved) if saved[0] is not None else None
    return account, person, [row[2] for row in rows if row[2] is not None], conversation


async def create_person(session: AsyncSession, name: str, now: datetime, channel: str, external_id: str,
                        chat_id: str) -> Person:
    person = Person(name=name, created_at=now, last_channel=channel)
    session.add(person)
    await session.flush()
    session.add(Account(person_id=person.id, channel=channel, external_id=external_id, chat_id=chat_id))
    await session.flush()
    return person


# ---- one person, several channels (Telegram, Zalo)
# Where the bot writes to a person on its own: the channel they chose, else the one they wrote from last; among
# accounts of equal rank, the oldest. Queries that pick one account per person order by this.
PREFERRED_FIRST = (case((Account.channel == func.coalesce(Person.chosen_channel, Person.last_channel), 0), else_=1),
                   Account.id)


async def preferred_accounts(session: AsyncSession, person_ids: set[int]) -> dict[int, Account]:
    """Each person's reachable account that the bot writes to on its own (PREFERRED_FIRST)."""
    if not person_ids:
        return {}
    rows = await session.exec(select(Account).join(Person, Person.id == Account.person_id)
                              .where(Account.person_id.in_(person_ids), Account.unreachable_at.is_(None))
                              .order_by(*PREFERRED_FIRST))
    found: dict[int, Account] = {}
    for account in rows.all():
        found.setdefault(account.person_id, account)
    return found


async def note_channel(session: AsyncSession, person: Person, channel: str, *, touch: bool) -> None:
    """The person wrote from this channel (not the one noted): what the bot sends on its own goes there now.
    `touch`: move their conversation's version (unless this unit of work writes it anyway), so that a process
    that remembers them reads afresh (bot/known_people.py)."""
    await session.execute(update(Person).where(Person.id == person.id).values(last_channel=channel)
                          .execution_options(synchronize_session=False))
    set_committed_value(person, "last_channel", channel)
    if touch:
        await touch_conversation(session, person.id)


async def choose_channel(session: AsyncSession, person_id: int, channel: str | None) -> None:
    await session.execute(update(Person).where(Person.id == person_id).values(chosen_channel=channel)
                          .execution_options(synchronize_session=False))


async def accounts_of_person(session: AsyncSession, person_id: int) -> list[Account]:
    return list((await session.exec(select(Account).where(Account.person_id == person_id)
                                    .order_by(Account.id))).all())


async def set_menu(session: AsyncSession, account: Account, menu: dict | None, *, touch: bool) -> None:
    """The chat's last one-shot menu (None: none); `touch` as for note_channel."""
    await session.execute(update(Account).where(Account.id == account.id).values(menu=menu)
                          .execution_options(synchronize_session=False))
    set_committed_value(account, "menu", menu)
    if touch:
        await touch_conversation(session, account.person_id)


# A message with choices the outbox just delivered becomes the chat's menu (a group commit, scheduler/outbox.py).
_accounts = Account.__table__  # Core: written in groups, several rows at once
SET_MENU_OF_CHAT = (update(_accounts).where(_accounts.c.person_id == bindparam("whose"),
                                            _accounts.c.channel == bindparam("on_channel"),
                                            _accounts.c.chat_id == bindparam("in_chat"))
                    .values(menu=bindparam("shown", type_=_accounts.c.menu.type)))


async def add_link_code(session: AsyncSession, code_hash: str, person_id: int, channel: str, now: datetime,
                        expires_at: datetime) -> None:
    session.add(LinkCode(code_hash=code_hash, person_id=person_id, channel=channel, created_at=now,
                         expires_at=expires_at))


async def link_code_by_hash(session: AsyncSession, code_hash: str) -> LinkCode | None:
    return (await session.exec(select(LinkCode).where(LinkCode.code_hash == code_hash))).first()


async def claim_link_code(session: AsyncSession, code: LinkCode, now: datetime) -> bool:
    """Single use: False if a concurrent redemption was first."""
    result = await session.execute(update(LinkCode).where(LinkCode.id == code.id, LinkCode.used_at.is_(None))
                                   .values(used_at=now).execution_options(synchronize_session=False))
    return result.rowcount == 1


async def link_account(session: AsyncSession, person_id: int, channel: str, external_id: str, chat_id: str,
                       account: Account | None) -> None:
    """This channel's account now belongs to the person: created, or moved from a person without roles. An
    older account of the person on the same channel (a changed phone) is replaced."""
    await session.execute(delete(Account).where(Account.person_id == person_id, Account.channel == channel,
                                                Account.external_id != external_id))
    if account is None:
        session.add(Account(person_id=person_id, channel=channel, external_id=external_id, chat_id=chat_id))
    else:
        await session.execute(update(Account).where(Account.id == account.id)
                              .values(person_id=person_id, chat_id=chat_id, menu=None, unreachable_at=None)
                              .execution_options(synchronize_session=False))
    await session.flush()
    await touch_conversation(session, person_id)


async def has_roles(session: AsyncSession, person_id: int) -> bool:
    return (await session.scalar(select(func.count()).select_from(Membership).where(
        Membership.person_id == person_id, Membership.revoked_at.is_(None)))) > 0


async def memberships_of(session: AsyncSession, person_id: int) -> list[Membership]:
    return list((await session.exec(select(Membership).where(Membership.person_id == person_id,
                                                              Membership.revoked_at.is_(None))
                                    .order_by(Membership.id))).all())


# ---- communes and units
async def ensure_commune(session: AsyncSession, official: OfficialCommune) -> Commune:
    commune = await session.get(Commune, official.code)
    if commune is None:
        await session.execute(
            _insert(session, Commune)
            .values(code=official.code, name=official.name, province_code=official.province_code,
                    province_name=official.province_name)
            .on_conflict_do_nothing()
        )
        commune = await session.get(Commune, official.code)
    assert commune is not None
    return commune


async def ensure_unit(session: AsyncSession, commune_code: str, kind: str, name: str) -> Unit:
    key = fold(name)
    unit = await unit_named(session, commune_code, kind, name)
    if unit is None:
        unit = Unit(commune_code=commune_code, kind=kind, name=" ".join(name.split()), name_key=key)
        session.add(unit)
        await session.flush()
    return unit


async def movements_for(session: AsyncSession, commune_code: str) -> list[Movement]:
    """The commune's own list when it has one, else the default list."""
    result = await session.exec(
        select(Movement)
        .where(Movement.active, or_(Movement.commune_code == commune_code, Movement.commune_code.is_(None)))
        .order_by(Movement.position, Movement.id)
    )
    rows = list(result.all())
    own = [m for m in rows if m.commune_code == commune_code]
    return own or [m for m in rows if m.commune_code is None]


async def set_commune_movements(session: AsyncSession, commune_code: str, names: Sequence[str]) -> None:
    """The commune's own list, in this order; none: back to the default list. Rows leaving the list are
    retired, not deleted (cases keep the movement's name as it was)."""
    own = (await session.exec(select(Movement).where(Movement.commune_code == commune_code))).all()
    by_key = {fold(m.name): m for m in own}
    for movement in own:
        movement.active = False
    for position, name in enumerate(dict.fromkeys(" ".join(n.split()) for n in names if n.strip())):
        movement = by_key.get(fold(name))
        if movement is None:
            session.add(Movement(commune_code=commune_code, name=name, position=position))
        else:
            movement.name, movement.position, movement.active = name, position, True


async def ensure_default_movements(session: AsyncSession) -> None:
    count = await session.scalar(select(func.count()).select_from(Movement).where(Movement.commune_code.is_(None)))
    if not count:
        session.add_all(Movement(name=name, position=i) for i, name in enumerate(DEFAULT_MOVEMENTS))


# ---- conversations
async def conversation_of(session: AsyncSession, person_id: int) -> SavedConversation | None:
    row = (await session.exec(select(*_SAVED_COLUMNS).where(_conversations.c.person_id == person_id))).first()
    return SavedConversation(*row) if row is not None else None


@dataclass(frozen=True, slots=True)
class ConversationWrite:
    """A conversation's next state, or its end (`flow` None), to be written when the unit of work ends."""

    person_id: int
    seen: SavedConversation | None  # as it was read; None: the conversation starts
    flow: str | None = None
    state: dict | None = None


async def write_conversation(target: AsyncSession | AsyncConnection, write: ConversationWrite,
                             now: datetime) -> SavedConversation | None:
    """Write only if nobody changed the conversation since we read it (optimistic locking), else
    StaleConversation; the row as it now is (None: ended), without reading it back. `target` is the
    unit of work's session or, for a lone statement, a connection of its own (Database.alone)."""
    seen = write.seen
    if write.flow is None:
        assert seen is not None
        ended = await _run(target, _END_CONVERSATION, {"conversation_id": seen.id, "seen_version": seen.version})
        if ended.rowcount != 1:
            raise StaleConversation
        return None
    if seen is None:
        created = await _run(target, _START_CONVERSATION[_dialect(target)], {
            "person_id": write.person_id, "new_flow": write.flow, "new_state": write.state, "now": now})
        conversation_id = created.scalar_one_or_none()
        if conversation_id is None:  # someone else started one first
            raise StaleConversation
        version = 1
    else:
        conversation_id, version = seen.id, seen.version + 1
        saved = await _run(target, _SAVE_CONVERSATION, {
            "conversation_id": seen.id, "seen_version": seen.version, "new_state": write.state,
            "new_flow": write.flow, "new_version": version, "now": now})
        if saved.rowcount != 1:
            raise StaleConversation
    return SavedConversation(conversation_id, write.person_id, write.flow, write.state, version, now)


async def save_and_mark_handled(target: InlineStatements | GroupCommit, write: ConversationWrite,
                                now: datetime, row_id: int, replies: list[dict],
                                handled_at: datetime) -> SavedConversation:
    """An answer's next conversation state, or a conversation started (/decu), and its inbox row marked handled
    (with the replies to send), together, without SQLAlchemy's unit of work. The row is marked only if the
    conversation was written; StaleConversation if it was not (nothing changed: another process moved it on, or
    started one first). A row someone marked first without touching the conversation (an error reply) keeps
    theirs.

    SQLite (`target` its driver, Database.driver): two statements in one transaction. PostgreSQL (`target` a
    GroupCommit): the answers of the chats handled meanwhile go together, in one statement alone: one round
    trip for the group instead of four an answer (BEGIN, two statements, COMMIT)."""
    seen = write.seen
    assert write.flow is not None
    version = seen.version + 1 if seen else 1
    replied = None if replies else handled_at
    if isinstance(target, InlineStatements):
        async with target.transaction() as run:
            state, at = json.dumps(write.state), sqlite_time(now)
            written = run(_SAVE_SQLITE, seen.id, seen.version, state, write.flow, version, at) if seen else \
                run(_START_SQLITE, write.person_id, write.flow, state, at)
            if not written:
                raise StaleConversation
            conversation_id = written[0][0]
            marked = bool(run(_MARK_SQLITE, row_id, sqlite_time(handled_at),
                              None if replied is None else sqlite_time(replied), json.dumps(replies)))
    else:
        returned = await target.write(_SAVE_AND_MARK, {
            "conversation_id": seen.id if seen else None, "person_id": write.person_id,
            "seen": seen.version if seen else None, "state": write.state, "flow": write.flow,
            "version": version, "updated_at": now.isoformat(), "row_id": row_id,
            "handled_at": handled_at.isoformat(), "replied_at": None if replied is None else replied.isoformat(),
            "replies": replies})
        mine = next((row for row in returned if row.row_id == row_id), None)
        if mine is None:
            raise StaleConversation
        conversation_id, marked = mine.conversation_id, mine.marked
    if not marked:
        log.warning("inbox row %s was marked handled before this answer was saved", row_id)
    return SavedConversation(conversation_id, write.person_id, write.flow, write.state, version, now)


async def _run(target: AsyncSession | AsyncConnection, statement: Executable, params: dict | list[dict]):
    if isinstance(target, AsyncSession):
        return await target.exec(statement, params=params)
    return await target.execute(statement, params)


async def touch_conversation(session: AsyncSession, person_id: int) -> None:
    """Who the person is changed (a role revoked or granted, the account found unreachable): moving their
    conversation's version makes any process that remembers them read afresh (bot/known_people.py)."""
    await session.exec(_TOUCH_CONVERSATION, params={"whose": person_id})


_SAVE_CONVERSATION = (
    update(_conversations)
    .where(_conversations.c.id == bindparam("conversation_id"),
           _conversations.c.version == bindparam("seen_version"))
    .values(state=bindparam("new_state", type_=_conversations.c.state.type),
            flow=bindparam("new_flow"), version=bindparam("new_version"),
            updated_at=bindparam("now", type_=_conversations.c.updated_at.type))
)


def _start_conversation(insert) -> Executable:
    return insert(_conversations).values(
        person_id=bindparam("person_id"), flow=bindparam("new_flow"),
        state=bindparam("new_state", type_=_conversations.c.state.type), version=1,
        updated_at=bindparam("now", type_=_conversations.c.updated_at.type),
    ).on_conflict_do_nothing(index_elements=["person_id"]).returning(_conversations.c.id)


_START_CONVERSATION = _per_dialect(_start_conversation)
# A group of answers (save_and_mark_handled), on PostgreSQL: each conversation saved if still at the version seen,
# or started if the person has none, and then only its inbox row marked handled, with the replies to send. One
# answer a person per group (DISTINCT ON): two for the same one (on two channels) cannot both hold, and the
# other is stale.
_SAVE_AND_MARK = GroupStatement(
    "WITH m AS (SELECT DISTINCT ON (person_id) * FROM json_to_recordset(CAST($1 AS json)) AS m("
    "conversation_id bigint, person_id bigint, seen integer, state json, flow text, version integer, "
    "updated_at timestamptz, row_id bigint, handled_at timestamptz, replied_at timestamptz, replies json) "
    "ORDER BY person_id, row_id), "
    "saved AS (UPDATE conversation AS c SET state = m.state, flow = m.flow, version = m.version, "
    "updated_at = m.updated_at FROM m WHERE c.id = m.conversation_id AND c.version = m.seen "
    "RETURNING m.row_id, c.id), "
    "started AS (INSERT INTO conversation (person_id, flow, state, version, updated_at) "
    "SELECT person_id, flow, state, 1, updated_at FROM m WHERE conversation_id IS NULL "
    "ON CONFLICT (person_id) DO NOTHING RETURNING person_id, id), "
    "written AS (SELECT row_id, id FROM saved "
    "UNION ALL SELECT m.row_id, started.id FROM started JOIN m ON m.person_id = started.person_id), "
    "marked AS (UPDATE inbox AS i SET handled_at = m.handled_at, replied_at = m.replied_at, replies = m.replies "
    "FROM m WHERE i.id = m.row_id AND i.handled_at IS NULL AND m.row_id IN (SELECT row_id FROM written) "
    "RETURNING i.id) "
    "SELECT written.row_id, written.id AS conversation_id, "
    "EXISTS (SELECT 1 FROM marked WHERE marked.id = written.row_id) AS marked FROM written",
    lambda answers: (json.dumps(answers),), redoable=True)
_SAVE_SQLITE = ("UPDATE conversation SET state = ?3, flow = ?4, version = ?5, updated_at = ?6 "
                "WHERE id = ?1 AND version = ?2 RETURNING id")
_START_SQLITE = ("INSERT INTO conversation (person_id, flow, state, version, updated_at) VALUES (?1, ?2, ?3, 1, ?4) "
                 "ON CONFLICT (person_id) DO NOTHING RETURNING id")
_MARK_SQLITE = ("UPDATE inbox SET handled_at = ?2, replied_at = ?3, replies = ?4 "
                "WHERE id = ?1 AND handled_at IS NULL RETURNING id")
_TOUCH_CONVERSATION = (update(_conversations).where(_conversations.c.person_id == bindparam("whose"))
                       .values(version=_conversations.c.version + 1))
_END_CONVERSATION = delete(_conversations).where(_conversations.c.id == bindparam("conversation_id"),
                                                 _conversations.c.version == bindparam("seen_version"))


# ---- media
async def record_media(target: AsyncSession | AsyncConnection, infos: list[dict], now: datetime) -> None:
    """Stored files' rows (content-addressed: a file stored again keeps its row)."""
    await _run(target, _RECORD_MEDIA[_dialect(target)], [{**info, "created_at": now} for info in infos])


def _record_media(insert) -> Executable:
    table = Media.__table__
    return insert(table).values({c: bindparam(c, type_=table.c[c].type) for c in (
        "sha256", "size", "width", "height", "mime_type", "created_at")}).on_conflict_do_nothing()


_RECORD_MEDIA = _per_dialect(_record_media)


# ---- cases
async def next_case_number(session: AsyncSession, year: int) -> int:
    return (await session.exec(_NEXT_CASE_NUMBER[_dialect(session)], params={"year": year})).scalar_one()


def _next_case_number(insert) -> Executable:
    table = CaseCounter.__table__
    return (insert(table).values(year=bindparam("year"), last=1)
            .on_conflict_do_update(index_elements=["year"], set_={"last": table.c.last + 1})
            .returning(table.c.last))


_NEXT_CASE_NUMBER = _per_dialect(_next_case_number)


async def add_case(session: AsyncSession, case: Case, photos: Sequence[str], actor_id: int) -> Case:
    session.add(case)
    await session.flush()
    session.add_all(CasePhoto(case_id=case.id, sha256=sha, position=i) for i, sha in enumerate(photos))
    session.add(CaseEvent(case_id=case.id, actor_id=actor_id, at=case.submitted_at, from_status=None,
                          to_status=case.status))
    await session.flush()
    return case


async def cases_by_nominator(session: AsyncSession, person_id: int, limit: int) -> tuple[list[Case], int]:
    total = await session.scalar(select(func.count()).select_from(Case).where(Case.nominator_id == person_id))
    result = await session.exec(
        select(Case).where(Case.nominator_id == person_id).order_by(Case.submitted_at.desc(), Case.id.desc())
        .limit(limit)
    )
    return list(result.all()), int(total or 0)


async def cases_of_nominator_in(session: AsyncSession, person_id: int, status: str, limit: int = 10) -> list[Case]:
    result = await session.exec(select(Case).where(Case.nominator_id == person_id, Case.status == status)
                                .order_by(Case.id).limit(limit))
    return list(result.all())


async def case_by_code(session: AsyncSession, code: str) -> Case | None:
    result = await session.exec(select(Case).where(Case.code == code.upper()))
    return result.first()


async def same_name_cases(session: AsyncSession, commune_code: str, name: str, since: datetime) -> list[Case]:
    result = await session.exec(_SAME_NAME_CASES, params={"commune_code": commune_code, "name_key": fold(name),
                                                          "since": since})
    return list(result.all())


_SAME_NAME_CASES = (
    select(Case)
    .where(Case.commune_code == bindparam("commune_code"), Case.name_key == bindparam("name_key"),
           Case.submitted_at >= bindparam("since"))
    .order_by(Case.submitted_at.desc())
    .limit(5)
)


async def photo_count(session: AsyncSession, case_id: int) -> int:
    return int(await session.scalar(select(func.count()).select_from(CasePhoto).where(CasePhoto.case_id == case_id))
               or 0)


async def case_photos(session: AsyncSession, case_id: int) -> list[dict]:
    """A case's photos in order, described as the flows keep them."""
    rows = await session.exec(
        select(Media, CasePhoto.position).join(CasePhoto, CasePhoto.sha256 == Media.sha256)
        .where(CasePhoto.case_id == case_id).order_by(CasePhoto.position))
    return [{"sha256": m.sha256, "size": m.size, "width": m.width, "height": m.height, "mime_type": m.mime_type}
            for m, _ in rows.all()]


async def replace_case_photos(session: AsyncSession, case_id: int, photos: Sequence[str]) -> None:
    await session.execute(delete(CasePhoto).where(CasePhoto.case_id == case_id))
    session.add_all(CasePhoto(case_id=case_id, sha256=sha, position=i) for i, sha in enumerate(photos))


async def unit_named(session: AsyncSession, commune_code: str, kind: str, name: str) -> Unit | None:
    result = await session.exec(select(Unit).where(Unit.commune_code == commune_code, Unit.kind == kind,
                                                   Unit.name_key == fold(name)))
    return result.first()


async def units_of(session: AsyncSession, commune_code: str) -> list[Unit]:
    result = await session.exec(select(Unit).where(Unit.commune_code == commune_code).order_by(Unit.kind, Unit.name))
    return list(result.all())


async def people_of(session: AsyncSession, commune_code: str) -> list[tuple[Person, Membership, Unit | None]]:
    result = await session.exec(
        select(Person, Membership, Unit).join(Membership, Membership.person_id == Person.id)
        .outerjoin(Unit, Unit.id == Membership.unit_id)
        .where(Membership.commune_code == commune_code).order_by(Membership.role, Person.name))
    return list(result.all())


async def case_history(session: AsyncSession, case_id: int) -> list[tuple[CaseEvent, Person | None]]:
    result = await session.exec(
        select(CaseEvent, Person).outerjoin(Person, Person.id == CaseEvent.actor_id)
        .where(CaseEvent.case_id == case_id).order_by(CaseEvent.at, CaseEvent.id))
    return list(result.all())


async def secretary_accounts(session: AsyncSession, communes: Sequence[str]) -> list[Account]:
    """Each active secretary of these communes, by their preferred reachable account (PREFERRED_FIRST)."""
    if not communes:
        return []
    rows = await session.exec(_SECRETARY_ACCOUNTS, params={"communes": list(communes)})
    found: dict[int, Account] = {}
    for account in rows.all():
        found.setdefault(account.person_id, account)
    return list(found.values())


# Built once: it runs for every submission. The role is a literal: with it bound, PostgreSQL's estimate for an
# unknown role (secretaries are few, cadres many) kept it planning the statement again at every run (0.9 ms, 0.2
# with its generic plan).
_SECRETARY_ACCOUNTS = (
    select(Account).join(Membership, Membership.person_id == Account.person_id)
    .join(Person, Person.id == Account.person_id)
    .where(Membership.role == written_in(Role.SECRETARY),
           Membership.commune_code.in_(bindparam("communes", expanding=True)),
           Membership.revoked_at.is_(None), Account.unreachable_at.is_(None))
    .order_by(*PREFERRED_FIRST)
)


async def all_deadlines(session: AsyncSession) -> list[Deadline]:
    return list((await session.exec(select(Deadline))).all())


async def last_case_event(session: AsyncSession, case_id: int) -> CaseEvent | None:
    return (await session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id)
                               .order_by(CaseEvent.at.desc(), CaseEvent.id.desc()))).first()


async def units_matching(session: AsyncSession, communes: Sequence[str], unit_ids: Sequence[int],
                         words: str) -> list[Unit]:
    """Units of these communes (or these units) whose folded name contains `words`, or numbered `words`."""
    number = int(words) if words.isdigit() else -1
    return list((await session.exec(select(Unit).where(
        or_(Unit.commune_code.in_(communes or [""]), Unit.id.in_(unit_ids or [0])),
        or_(Unit.name_key.contains(words), Unit.id == number)))).all())


async def commune_units(session: AsyncSession, commune_code: str) -> list[Unit]:
    """A commune's villages and organisations, villages first, by name."""
    return list((await session.exec(select(Unit).where(Unit.commune_code == commune_code)
                                    .order_by(Unit.kind.desc(), Unit.name))).all())


async def other_unit_named(session: AsyncSession, like: Unit, name: str) -> Unit | None:
    """Another unit of the same commune and kind already called `name` (ignoring case and diacritics)."""
    return (await session.exec(select(Unit).where(
        Unit.commune_code == like.commune_code, Unit.kind == like.kind, Unit.name_key == fold(name),
        Unit.id != like.id))).first()


async def members_of(session: AsyncSession, commune_code: str) -> list[tuple[Membership, Person]]:
    """The commune's active memberships and their people, by role and name."""
    return list((await session.exec(
        select(Membership, Person).join(Person, Person.id == Membership.person_id)
        .where(Membership.commune_code == commune_code, Membership.revoked_at.is_(None))
        .order_by(Membership.role, Person.name))).all())


async def revoke_memberships(session: AsyncSession, person_id: int, commune_code: str, now: datetime) -> bool:
    """End the person's memberships in the commune and drop what was waiting to be sent to them; False if
    they had none there."""
    result = await session.execute(
        update(Membership).where(Membership.person_id == person_id, Membership.commune_code == commune_code,
                                 Membership.revoked_at.is_(None))
        .values(revoked_at=now).execution_options(synchronize_session=False))
    if not result.rowcount:
        return False
    await touch_conversation(session, person_id)  # a draft in progress is refused at once
    await session.execute(
        # The status as a literal: the pending rows' index finds them (there is no index on person_id).
        update(Outbox).where(Outbox.person_id == person_id,
                             Outbox.status == written_in(OutboxStatus.PENDING))
        .values(status=OutboxStatus.STALE, last_error="revoked").execution_options(synchronize_session=False))
    return True


async def reminder_settings(session: AsyncSession, person_id: int) -> dict[str, ReminderSetting]:
    rows = await session.exec(select(ReminderSetting).where(ReminderSetting.person_id == person_id))
    return {s.kind: s for s in rows.all()}


async def invite_by_hash(session: AsyncSession, code_hash: str) -> Invite | None:
    return (await session.exec(select(Invite).where(Invite.code_hash == code_hash))).first()


async def claim_invite(session: AsyncSession, invite: Invite, now: datetime) -> bool:
    """Mark the invite used, unless a concurrent redemption got there first (single use)."""
    result = await session.execute(
        update(Invite).where(Invite.id == invite.id, Invite.used_at.is_(None)).values(used_at=now)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


async def note_invite_user(session: AsyncSession, invite: Invite, person_id: int) -> None:
    await session.execute(update(Invite).where(Invite.id == invite.id).values(used_by=person_id))


async def set_reachable(session: AsyncSession, channel: str, external_id: str, unreachable_at: datetime | None) -> None:
    """None: reminders may reach the account again; a time: it blocked the bot then."""
    await session.execute(update(Account).where(Account.channel == channel, Account.external_id == external_id)
                          .values(unreachable_at=unreachable_at).execution_options(synchronize_session=False))


async def unit_like(session: AsyncSession, commune_code: str, kind: str, name: str) -> Unit | None:
    """Another unit of the commune whose name looks like `name` without being it ("Tổ dân phố 7" beside "Tổ dân
    phố số 7"): asked about before a second one is made."""
    key = fold(name)
    units = (await session.exec(select(Unit).where(Unit.commune_code == commune_code, Unit.kind == kind))).all()
    return next((u for u in units if u.name_key != key and looks_alike(u.name, name)), None)


async def open_invites(session: AsyncSession, now: datetime) -> list[tuple[Invite, Unit | None]]:
    """Invitations not used and not expired, the newest first."""
    return list((await session.exec(
        select(Invite, Unit).outerjoin(Unit, Unit.id == Invite.unit_id)
        .where(Invite.used_at.is_(None), Invite.expires_at > now).order_by(Invite.created_at.desc()))).all())


async def communes_named(session: AsyncSession, codes: set[str | None]) -> list[Commune]:
    wanted = [c for c in codes if c]
    return list((await session.exec(select(Commune).where(Commune.code.in_(wanted or [""])))).all())


async def unit_of(session: AsyncSession, unit_id: int | None) -> Unit | None:
    return await session.get(Unit, unit_id) if unit_id else None


async def count_members(session: AsyncSession) -> int:
    """People who hold an active role anywhere."""
    return int(await session.scalar(select(func.count(func.distinct(Membership.person_id)))
                                    .where(Membership.revoked_at.is_(None))) or 0)


async def sent_file_ids(session: AsyncSession, channel: str, shas: Sequence[str]) -> dict[str, str]:
    """The channel's ids of the photos it has already been sent, by SHA-256."""
    if not shas:
        return {}
    rows = await session.exec(select(SentFile.sha256, SentFile.file_id).where(
        SentFile.channel == channel, SentFile.sha256.in_(list(shas))))
    return dict(rows.all())


async def remember_sent_files(session: AsyncSession, channel: str, file_ids: dict[str, str], now: datetime) -> None:
    """Keep the channel's id of each photo just sent (a newer id replaces one that stopped working)."""
    if not file_ids:
        return
    statement = _insert(session, SentFile).values([{"channel": channel, "sha256": sha, "file_id": file_id,
                                                    "created_at": now} for sha, file_id in file_ids.items()])
    statement = statement.on_conflict_do_update(index_elements=["channel", "sha256"],
                                                set_={"file_id": statement.excluded.file_id})
    await session.execute(statement)


async def forget_sent_files(session: AsyncSession, channel: str, shas: Sequence[str]) -> None:
    await session.execute(delete(SentFile).where(SentFile.channel == channel, SentFile.sha256.in_(list(shas))))
