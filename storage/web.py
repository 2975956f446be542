"""Queries of the web chat: sessions, web accounts, the messages a browser fetches, the app's own secrets,
and what the public page of a commune shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import select as select_models
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    Account,
    AppSecret,
    Case,
    CasePhoto,
    CaseStatus,
    Commune,
    Membership,
    Person,
    Unit,
    WebMessage,
    WebSession,
)
from storage.repo import _insert

CHANNEL = "web"
KEPT_MESSAGES = 300  # a web chat's latest messages kept; older ones have long been fetched
PUBLIC_STATUSES = (CaseStatus.APPROVED, CaseStatus.COMMENDED)


# ---- secrets
async def app_secret(session: AsyncSession, name: str, made: str) -> str:
    """The secret called `name`; `made` is stored first if there is none yet (the first process wins)."""
    await session.execute(_insert(session, AppSecret).values(name=name, value=made).on_conflict_do_nothing())
    return (await session.execute(select(AppSecret.value).where(AppSecret.name == name))).scalar_one()


# ---- accounts and sessions
async def web_account_of(session: AsyncSession, person_id: int) -> Account | None:
    return (await session.exec(select_models(Account).where(Account.person_id == person_id, Account.channel == CHANNEL)
                               .order_by(Account.id))).first()


async def add_web_account(session: AsyncSession, person_id: int, external_id: str) -> Account:
    account = Account(person_id=person_id, channel=CHANNEL, external_id=external_id, chat_id=external_id)
    session.add(account)
    await session.flush()
    return account


async def open_session(session: AsyncSession, token_hash: str, account_id: int, now: datetime,
                       expires_at: datetime) -> None:
    session.add(WebSession(token_hash=token_hash, account_id=account_id, created_at=now, expires_at=expires_at))
    await session.flush()


@dataclass(frozen=True)
class SignedIn:
    """Who a valid session belongs to."""

    account_id: int
    chat_id: str  # the web account's external id, which is also its chat
    person_id: int
    name: str


_SIGNED_IN = (
    select(Account.id, Account.external_id, Person.id, Person.name)
    .select_from(WebSession)
    .join(Account, Account.id == WebSession.account_id)
    .join(Person, Person.id == Account.person_id)
    .where(WebSession.token_hash == bindparam("token_hash"), WebSession.revoked_at.is_(None),
           WebSession.expires_at > bindparam("now", type_=WebSession.__table__.c.expires_at.type),
           exists().where(Membership.person_id == Person.id, Membership.revoked_at.is_(None)))
)


async def signed_in(session: AsyncSession | AsyncConnection, token_hash: str, now: datetime) -> SignedIn | None:
    """The person of a session that is not expired, not revoked, and whose person still holds a role (a
    person whose roles were all revoked is signed out everywhere at once)."""
    row = (await session.execute(_SIGNED_IN, {"token_hash": token_hash, "now": now})).first()
    return SignedIn(*row) if row is not None else None


async def revoke_session(session: AsyncSession, token_hash: str, now: datetime) -> None:
    await session.execute(update(WebSession).where(WebSession.token_hash == token_hash,
                                                   WebSession.revoked_at.is_(None)).values(revoked_at=now))


async def forget_expired_sessions(session: AsyncSession, now: datetime) -> None:
    await session.execute(delete(WebSession).where(WebSession.expires_at <= now))


# ---- messages
_messages = WebMessage.__table__


async def add_message(session: AsyncSession, chat_id: str, payload: dict[str, Any], now: datetime, *,
                      mine: bool = False, client_key: str | None = None) -> None:
    """A message for the chat, kept once however often it is resent if it has a client_key: the person's own
    (the browser's id of it), or a bot's reply (its `once` key, see WebChannel.deliver). The chat keeps its
    latest KEPT_MESSAGES."""
    await session.execute(_insert(session, WebMessage).values(
        chat_id=chat_id, mine=mine, client_key=client_key, payload=payload, created_at=now).on_conflict_do_nothing())
    oldest_kept = (select(_messages.c.id).where(_messages.c.chat_id == chat_id).order_by(_messages.c.id.desc())
                   .offset(KEPT_MESSAGES).limit(1).scalar_subquery())
    await session.execute(delete(WebMessage).where(WebMessage.chat_id == chat_id, WebMessage.id <= oldest_kept))


_SINCE = (select(_messages.c.id, _messages.c.mine, _messages.c.client_key, _messages.c.payload)
          .where(_messages.c.chat_id == bindparam("chat_id"), _messages.c.id > bindparam("since"))
          .order_by(_messages.c.id).limit(bindparam("limit")))


_LATEST = (select(_messages.c.id, _messages.c.mine, _messages.c.client_key, _messages.c.payload)
           .where(_messages.c.chat_id == bindparam("chat_id")).order_by(_messages.c.id.desc())
           .limit(bindparam("limit")))


async def messages_since(session: AsyncSession | AsyncConnection, chat_id: str, since: int,
                         limit: int = 100) -> list[Any]:
    """The chat's messages after id `since`, oldest first. `since` 0: its latest `limit` (a new browser)."""
    if since <= 0:
        rows = list(await session.execute(_LATEST, {"chat_id": chat_id, "limit": limit}))
        return rows[::-1]
    return list(await session.execute(_SINCE, {"chat_id": chat_id, "since": since, "limit": limit}))


# ---- the public page
@dataclass(frozen=True)
class PublicCase:
    code: str
    name: str
    kind: str
    unit: str
    field: str
    movement: str
    description: str
    when: str
    status: str
    updated_at: datetime
    photos: tuple[str, ...]


def _public(commune_code: Any) -> Any:
    """Approved or commended, and the nominee said yes to publicity: never "no" or "not asked"."""
    return ((Case.commune_code == commune_code) & Case.status.in_(PUBLIC_STATUSES)
            & (Case.answers["consent"].as_string() == "yes"))


async def commune(session: AsyncSession, code: str) -> Commune | None:
    return await session.get(Commune, code)


async def public_cases(session: AsyncSession, commune_code: str, limit: int = 100) -> list[PublicCase]:
    """A commune's publishable cases, the latest decided first. Only the fields a portal may show are read
    out of the answers: never the phone, the birth year or the ethnicity."""
    rows = (await session.exec(select_models(Case, Unit.name).outerjoin(Unit, Unit.id == Case.unit_id)
                               .where(_public(commune_code))
                               .order_by(Case.updated_at.desc(), Case.id.desc()).limit(limit))).all()
    ids = [case.id for case, _ in rows]
    photos: dict[int, list[str]] = {}
    if ids:
        for case_id, sha in (await session.execute(select(CasePhoto.case_id, CasePhoto.sha256)
                                                .where(CasePhoto.case_id.in_(ids))
                                                .order_by(CasePhoto.case_id, CasePhoto.position))).all():
            photos.setdefault(case_id, []).append(sha)
    return [PublicCase(code=case.code, name=case.name, kind=case.kind, unit=unit or "", field=case.field,
                       movement=case.movement, description=str(case.answers.get("description") or ""),
                       when=_when_label(case.answers.get("when")), status=case.status, updated_at=case.updated_at,
                       photos=tuple(photos.get(case.id, ()))) for case, unit in rows]


async def photo_is_public(session: AsyncSession, sha256: str) -> bool:
    """A photo the public page may serve: one of a publishable case, of any commune."""
    statement = (select(CasePhoto.id).join(Case, Case.id == CasePhoto.case_id)
                 .where(CasePhoto.sha256 == sha256, Case.status.in_(PUBLIC_STATUSES),
                        Case.answers["consent"].as_string() == "yes").limit(1))
    return (await session.execute(statement)).first() is not None


def _when_label(when: Any) -> str:
    return str(when.get("label") or "") if isinstance(when, dict) else ""
