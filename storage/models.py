"""Tables. Communes come from the official list (vietnam-provinces); villages and organisations
below them are ours. Two levels only (province → commune), as since 1/7/2025: no districts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, UniqueConstraint, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which keeps no zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_column(**kw: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kw))


def json_column() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


def json_list_column() -> Any:
    # Not default_factory=list: pydantic reads the factory's signature at each construction, and for
    # the builtin list that means parsing its text signature, about 100 µs per new row (dict: 8).
    return Field(default_factory=_empty_list, sa_column=Column(JSON, nullable=False))


def _empty_list() -> list:
    return []


class Role(StrEnum):
    CADRE = "cadre"
    SECRETARY = "secretary"
    OFFICIAL = "official"
    ADMIN = "admin"


class UnitKind(StrEnum):
    VILLAGE = "village"  # thôn, ấp, bản, buôn, làng, tổ dân phố
    ORGANISATION = "organisation"  # Hội Phụ nữ, Đoàn Thanh niên, …


class CaseStatus(StrEnum):
    SUBMITTED = "submitted"
    RETURNED = "returned"
    RESUBMITTED = "resubmitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    COMMENDED = "commended"
    WITHDRAWN = "withdrawn"


class Commune(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=5)  # official 5-digit code, "00070"
    name: str
    province_code: str = Field(max_length=2, index=True)
    province_name: str


class Unit(SQLModel, table=True):
    """A village or an organisation of a commune; retired units keep their cases."""

    __table_args__ = (UniqueConstraint("commune_code", "kind", "name_key"),)
    id: int | None = Field(default=None, primary_key=True)
    commune_code: str = Field(foreign_key="commune.code", max_length=5)
    kind: str = Field(max_length=16)
    name: str
    name_key: str  # folded name, for matching without diacritics
    retired_at: datetime | None = utc_column(nullable=True)


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = ""
    created_at: datetime = utc_column(nullable=False)
    # With accounts on several channels, what the bot sends on its own goes to the one chosen (/nhacnho),
    # else to the one the person wrote from last.
    last_channel: str | None = Field(default=None, max_length=16)
    chosen_channel: str | None = Field(default=None, max_length=16)


class Account(SQLModel, table=True):
    """A person's identity on one channel; the conversation belongs to the person, not the account."""

    __table_args__ = (UniqueConstraint("channel", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=64)
    chat_id: str = Field(max_length=64)
    unreachable_at: datetime | None = utc_column(nullable=True)  # blocked the bot; cleared when they write
    # The last one-shot menu this chat was shown ({"at", "choices": [[label, value], …]}), so that a typed
    # "2" or label answers it on a channel without buttons (bot/menus.py).
    menu: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class Membership(SQLModel, table=True):
    """A role a person holds in a commune (and for a cadre, in a village or organisation)."""

    # A commune's secretaries are looked up at every submission (80,000 memberships nationally).
    __table_args__ = (Index("ix_membership_commune_role", "commune_code", "role"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    role: str = Field(max_length=16)
    commune_code: str | None = Field(default=None, foreign_key="commune.code", max_length=5)
    province_code: str | None = Field(default=None, max_length=2)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    created_at: datetime = utc_column(nullable=False)
    revoked_at: datetime | None = utc_column(nullable=True)


class Invite(SQLModel, table=True):
    """A single-use invitation; only the SHA-256 of the code is kept, so a leaked table invites no one."""

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=16)
    commune_code: str | None = Field(default=None, foreign_key="commune.code", max_length=5)
    province_code: str | None = Field(default=None, max_length=2)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    created_at: datetime = utc_column(nullable=False)
    expires_at: datetime = utc_column(nullable=False)
    used_at: datetime | None = utc_column(nullable=True)
    used_by: int | None = Field(default=None, foreign_key="person.id")


class LinkCode(SQLModel, table=True):
    """A one-time code (/lienket) that links a person's account on another channel; only its hash is kept."""

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    channel: str = Field(max_length=16)  # where it was asked for
    created_at: datetime = utc_column(nullable=False)
    expires_at: datetime = utc_column(nullable=False)
    used_at: datetime | None = utc_column(nullable=True)


class Movement(SQLModel, table=True):
    """A movement (phong trào) a commune runs; commune_code NULL = the default list for everyone."""

    id: int | None = Field(default=None, primary_key=True)
    commune_code: str | None = Field(default=None, foreign_key="commune.code", max_length=5, index=True)
    name: str
    position: int = 0
    active: bool = True


class Conversation(SQLModel, table=True):
    """Where a person is in a flow, with every answer so far; saved after each message.

    `version` makes concurrent writers (a second worker, an album's photos) detect each other.
    """

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", unique=True)
    flow: str = Field(max_length=32)
    state: dict = json_column()
    version: int = 0
    updated_at: datetime = utc_column(nullable=False)


class Media(SQLModel, table=True):
    """A stored file, addressed by its content; the bytes live in the media store."""

    sha256: str = Field(primary_key=True, max_length=64)
    size: int
    width: int
    height: int
    mime_type: str = Field(max_length=64)
    created_at: datetime = utc_column(nullable=False)


class SentFile(SQLModel, table=True):
    """The channel's own id of a photo it has been sent once (Telegram's file_id): sending that id again
    costs nothing, neither a preview to draw nor an upload."""

    __tablename__ = "sentfile"
    channel: str = Field(primary_key=True, max_length=16)
    sha256: str = Field(primary_key=True, max_length=64)  # the original in the media store
    file_id: str = Field(max_length=255)
    created_at: datetime = utc_column(nullable=False)


class Case(SQLModel, table=True):
    __table_args__ = (
        Index("ix_case_commune_name", "commune_code", "name_key"),
        # Counts and lists of some communes over a period (storage/stats.py), the newest first; counted from
        # the index alone.
        Index("ix_case_commune_submitted", "commune_code", "submitted_at", "status", "unit_id",
              postgresql_include=["id"]),  # SQLite's indexes hold the rowid (the id) anyway
        # Every commune at once (the planner): the period's cases, counted from the index alone.
        Index("ix_case_submitted", "submitted_at", "commune_code", "status", "unit_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)  # NT-2026-00042
    commune_code: str = Field(foreign_key="commune.code", max_length=5)  # leads the indexes above
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    nominator_id: int = Field(foreign_key="person.id", index=True)
    status: str = Field(max_length=16, index=True)
    kind: str = Field(max_length=16)
    name: str
    name_key: str
    field: str = ""
    movement: str = ""
    answers: dict = json_column()
    submitted_at: datetime = utc_column(nullable=False)
    updated_at: datetime = utc_column(nullable=False)
    version: int = 1  # grows with each resubmission; earlier answers are kept in CaseVersion
    reason: str = ""  # the reviewer's latest reason (returned, rejected)
    fix_fields: list = json_list_column()
    commendation: dict = json_column()  # {"form", "decision", "date"} once commended


class CaseVersion(SQLModel, table=True):
    """The answers and photos of a case as they were before a resubmission."""

    __table_args__ = (UniqueConstraint("case_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    version: int
    answers: dict = json_column()
    photos: list = json_list_column()
    created_at: datetime = utc_column(nullable=False)


class PendingAction(SQLModel, table=True):
    """What a reviewer's next typed message means (the reason for returning case 42, say)."""

    person_id: int = Field(foreign_key="person.id", primary_key=True)
    action: str = Field(max_length=16)
    case_id: int = Field(foreign_key="case.id")
    data: dict = json_column()
    created_at: datetime = utc_column(nullable=False)


class CasePhoto(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("case_id", "sha256"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    sha256: str = Field(foreign_key="media.sha256", max_length=64)
    position: int


class CaseEvent(SQLModel, table=True):
    """The audit trail of a case: written once, never edited."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    at: datetime = utc_column(nullable=False)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str = Field(max_length=16)
    reason: str = ""
    details: dict = json_column()  # fields to fix, what changed, the commendation


class CaseCounter(SQLModel, table=True):
    """The last case number given out in a year (codes are NT-<year>-<number>)."""

    year: int = Field(primary_key=True)
    last: int = 0


# ---- deadlines and reminders (scheduler/)
class Deadline(SQLModel, table=True):
    """A deadline of a commune or a province: a quarterly one moved from its default date, or a one-off.

    `quarter` 1–4 marks a move of that quarter's deadline in `year`; 0 is a one-off with a title.
    """

    id: int | None = Field(default=None, primary_key=True)
    province_code: str | None = Field(default=None, max_length=2, index=True)
    commune_code: str | None = Field(default=None, foreign_key="commune.code", max_length=5, index=True)
    year: int
    quarter: int = 0
    title: str = ""
    due_at: datetime = utc_column(nullable=False)
    created_by: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = utc_column(nullable=False)


class ReminderSetting(SQLModel, table=True):
    """A person's choices for one kind of reminder: muted, snoozed until, or moved to another hour."""

    __table_args__ = (UniqueConstraint("person_id", "kind"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    kind: str = Field(max_length=16)
    enabled: bool = True
    snoozed_until: datetime | None = utc_column(nullable=True)
    hour: int | None = None  # local hour to receive it, within working hours


class PlannerChange(SQLModel, table=True):
    """Something that may change a commune's reminders: a commune, a province or a person, written by triggers
    on the tables it watches (migration 0011); the planner re-plans what it names, then deletes the row."""

    __tablename__ = "plannerchange"
    id: int | None = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"),
                                                           primary_key=True, autoincrement=True))
    commune_code: str | None = Field(default=None, max_length=5)
    province_code: str | None = Field(default=None, max_length=2)
    person_id: int | None = None


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a sender until `lease_until`; reclaimed after a crash
    SENT = "sent"
    FAILED = "failed"
    UNREACHABLE = "unreachable"  # the person blocked the bot
    STALE = "stale"  # its deadline passed before it could go out


NEW_CASES = "newcases"  # the kind of a secretary's new-case digest: the rows ix_outbox_newcases holds


class Outbox(SQLModel, table=True):
    """Every message the bot sends on its own initiative; `key` makes planning it twice harmless."""

    __table_args__ = (
        Index("ix_outbox_due", "status", "due_at"),
        # The sender's claim: the oldest pending rows, in the order it takes them, without sorting a burst
        # (60,000 rows due at 08:00). Only pending rows: it stays small whatever the history.
        Index("ix_outbox_pending", "due_at", "id", postgresql_where=text("status = 'pending'"),
              sqlite_where=text("status = 'pending'")),
        # A secretary's waiting new-case digest, looked up at each submission (bot/casework.py); only those rows:
        # the reminders written by the ten thousand would each pay for a place in an index on person_id.
        Index("ix_outbox_newcases", "person_id", postgresql_where=text(f"kind = '{NEW_CASES}'"),
              sqlite_where=text(f"kind = '{NEW_CASES}'")),
    )
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=160, unique=True)
    # No foreign key: people are never deleted, and checking (and row-locking) the person for each of a
    # morning's 60,000 rows was a third of their writing (migration 0013).
    person_id: int
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    payload: dict = json_column()  # {"text": …, "choices": [[label, value], …]}
    status: str = Field(default=OutboxStatus.PENDING, max_length=16)
    due_at: datetime = utc_column(nullable=False)  # its place in the queue: the oldest due goes first
    stale_at: datetime | None = utc_column(nullable=True)
    retry_at: datetime | None = utc_column(nullable=True)  # after a failed attempt: not before then
    attempts: int = 0
    lease_until: datetime | None = utc_column(nullable=True)
    last_error: str = ""
    created_at: datetime = utc_column(nullable=False)
    sent_at: datetime | None = utc_column(nullable=True)


# ---- the inbox (bot/intake.py)
class InboxUpdate(SQLModel, table=True):
    """Every update a channel delivers, stored before the channel hears we have it; handled once, a chat's
    updates one at a time in the order they came (`id`). Its replies are stored when it is handled and
    sent after: a crash in between loses neither the update nor the answer.

    Open work is `replied_at IS NULL`: not yet handled, or handled with replies still to send.
    """

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "update_key"),
        # Only open rows are indexed, so the index stays small whatever the history.
        Index("ix_inbox_open", "channel", "chat_id", "id", postgresql_where=text("replied_at IS NULL"),
              sqlite_where=text("replied_at IS NULL")),
    )
    id: int | None = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"),
                                                           primary_key=True, autoincrement=True))
    channel: str = Field(max_length=16)
    update_key: str = Field(max_length=64)  # the channel's id of the update: a redelivery is stored once
    chat_id: str = Field(max_length=64)
    album: str | None = Field(default=None, max_length=64)  # photos sent together, handled as one event
    kind: str = Field(max_length=32)  # message, callback_query, …: for the metrics
    payload: dict = json_column()  # the update as the channel sent it
    received_at: datetime = utc_column(nullable=False)
    handled_at: datetime | None = utc_column(nullable=True)
    replies: list = json_list_column()  # what to answer (common.events.reply_to_json), stored when handled
    replied_at: datetime | None = utc_column(nullable=True)


# ---- exports (bot/exports.py)
class ExportRecord(SQLModel, table=True):
    """Every export of cases (personal data leaves the system): who, what scope and period, which files."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)  # None: the console
    channel: str = Field(max_length=16)  # "telegram", "cli", …
    at: datetime = utc_column(nullable=False)
    scope: str = Field(max_length=32)  # "commune:00070" or "province:01"
    scope_name: str = ""
    period_start: datetime = utc_column(nullable=False)
    period_end: datetime = utc_column(nullable=False)
    period_label: str = ""
    statuses: list = json_list_column()
    cases: int = 0
    files: list = json_list_column()  # file names, as delivered
    missing_photos: int = 0


# ---- the web chat (bot/channels/web.py)
class WebSession(SQLModel, table=True):
    """A browser signed in to the web chat. Only the SHA-256 of its token is kept (the cookie holds the
    token, signed): a leaked table signs no one in."""

    __tablename__ = "websession"
    token_hash: str = Field(primary_key=True, max_length=64)
    account_id: int = Field(foreign_key="account.id", index=True)
    created_at: datetime = utc_column(nullable=False)
    expires_at: datetime = utc_column(nullable=False)
    revoked_at: datetime | None = utc_column(nullable=True)


class WebMessage(SQLModel, table=True):
    """What a web chat shows: the bot's replies to one web account, and what the person sent, kept until
    their browser fetches them (it may be offline); the browser asks for those after the last id it has."""

    __tablename__ = "webmessage"
    __table_args__ = (UniqueConstraint("chat_id", "client_key"), Index("ix_webmessage_chat", "chat_id", "id"))
    id: int | None = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"),
                                                           primary_key=True, autoincrement=True))
    chat_id: str = Field(max_length=64)
    mine: bool = False  # written by the person (an echo of what they sent), not by the bot
    client_key: str | None = Field(default=None, max_length=64)  # the browser's id of what the person sent
    payload: dict = json_column()  # a reply (common.events.reply_to_json), or {"text": …} for the person's own
    created_at: datetime = utc_column(nullable=False)


class AppSecret(SQLModel, table=True):
    """Secrets the application makes for itself when none is configured (the web session key), the same in
    every process that shares the database."""

    __tablename__ = "appsecret"
    name: str = Field(primary_key=True, max_length=32)
    value: str = Field(max_length=128)
