"""The life of a case: who may do what, each transition guarded so it happens once, its audit event,
and who is told (through the outbox).

submitted → returned (reason) → resubmitted → approved (sent up) | rejected (reason) → commended;
the nominator may withdraw a case that is not yet approved.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from common.events import Choice, Reply
from common.messages import t
from scheduler.outbox import Message, enqueue
from storage import repo
from storage.communes import all_communes
from storage.models import (
    NEW_CASES,
    Account,
    Case,
    CaseEvent,
    CaseStatus,
    Membership,
    Outbox,
    OutboxStatus,
    Role,
)
from storage.sql import written_in

S = CaseStatus


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[str]
    target: str
    needs_reason: bool = False


TRANSITIONS = {
    t.name: t for t in (
        Transition("return", frozenset({S.SUBMITTED, S.RESUBMITTED}), S.RETURNED, needs_reason=True),
        Transition("resubmit", frozenset({S.RETURNED}), S.RESUBMITTED),
        Transition("approve", frozenset({S.SUBMITTED, S.RESUBMITTED}), S.APPROVED),
        Transition("reject", frozenset({S.SUBMITTED, S.RESUBMITTED, S.RETURNED}), S.REJECTED, needs_reason=True),
        Transition("commend", frozenset({S.APPROVED}), S.COMMENDED),
        Transition("withdraw", frozenset({S.SUBMITTED, S.RETURNED, S.RESUBMITTED}), S.WITHDRAWN),
    )
}
REVIEWABLE = (S.SUBMITTED, S.RESUBMITTED)
CASE_CODE = re.compile(r"^NT-\d{4}-\d{3,}$", re.IGNORECASE)  # NT-<year>-<number>
REASON_MAX = 1000
DIGEST_WINDOW = timedelta(minutes=5)  # new cases within this time after a notice make one digest


def status_label(status: str) -> str:
    return t(f"status.{status}")


# ---- who may do what
def reviews(memberships: list[Membership], case: Case) -> bool:
    return any(m.role == Role.SECRETARY and m.commune_code == case.commune_code for m in memberships)


def may_see(person_id: int | None, memberships: list[Membership], case: Case) -> bool:
    """A nominator sees their cases; a cadre their unit's; a secretary or official their commune or province."""
    if person_id is not None and case.nominator_id == person_id:
        return True
    for m in memberships:
        if m.role == Role.CADRE and m.unit_id is not None and m.unit_id == case.unit_id:
            return True
        if m.role in (Role.SECRETARY, Role.OFFICIAL) and m.commune_code == case.commune_code:
            return True
        if m.role == Role.OFFICIAL and m.province_code and case.commune_code in province_communes(m.province_code):
            return True
    return False


def province_communes(province_code: str) -> set[str]:
    return {c.code for c in all_communes() if c.province_code == province_code}


# ---- transitions
async def transition(session: AsyncSession, case: Case, name: str, actor_id: int, now: datetime, *,
                     reason: str = "", details: dict[str, Any] | None = None,
                     values: dict[str, Any] | None = None) -> Case | None:
    """Move the case if it is still in a state the transition starts from; None if someone was first."""
    move = TRANSITIONS[name]
    result = await session.execute(
        update(Case)
        .where(Case.id == case.id, Case.status.in_(move.sources))
        .values(status=move.target, updated_at=now, **(values or {}))
        .returning(Case.status)
        .execution_options(synchronize_session=False)
    )
    if result.first() is None:
        return None
    session.add(CaseEvent(case_id=case.id, actor_id=actor_id, at=now, from_status=case.status,
                          to_status=move.target, reason=reason, details=details or {}))
    await session.flush()
    return await session.get(Case, case.id, populate_existing=True)


# ---- who is told
async def accounts_of(session: AsyncSession, person_ids: set[int]) -> dict[int, Account]:
    return await repo.preferred_accounts(session, person_ids)


async def tell_nominator(session: AsyncSession, case: Case, text: str, now: datetime,
                         choices: tuple[Choice, ...] = ()) -> None:
    account = (await accounts_of(session, {case.nominator_id})).get(case.nominator_id)
    if account is None:
        return
    key = f"status:{case.id}:{case.status}:{case.version}:{now.timestamp():.0f}"
    await enqueue(session, [Message(key, account.person_id, account.channel, account.chat_id, "status",
                                    Reply(text, choices), now)], now)


async def tell_secretaries_new(session: AsyncSession, case: Case, now: datetime, *, resubmitted: bool = False) -> None:
    """At once for the first case; cases that follow within minutes join one digest, not a flood."""
    line = t("review.new_line" if not resubmitted else "review.resubmitted_line", code=case.code, name=case.name)
    accounts = [account for account in await repo.secretary_accounts(session, [case.commune_code])
                if account.person_id != case.nominator_id]
    if not accounts:
        return
    notices = await _digests_or_last_notices(session, [account.person_id for account in accounts], now - DIGEST_WINDOW)
    messages = []
    for account in accounts:
        waiting, recent = notices.get(account.person_id, (None, None))
        if waiting is not None and await _join_digest(session, waiting, line, case.id):
            continue
        due = recent + DIGEST_WINDOW if recent else now
        messages.append(Message(f"{NEW_CASES}:{account.person_id}:{case.id}:{case.version}", account.person_id,
                                account.channel, account.chat_id, NEW_CASES, _digest([line]), due,
                                extra={"cases": [case.id]}))
    await enqueue(session, messages, now)  # the secretaries' new notices in one statement


def _digest(lines: list[str]) -> Reply:
    return Reply(t("review.new_title") + "\n" + "\n".join(lines), (Choice(t("remind.open_pending"), "cmd:choduyet"),))


async def current_digest(session: AsyncSession, payload: dict[str, Any]) -> Reply | None:
    """A digest says what is true when it is sent: only the cases still waiting for review (None: none is)."""
    ids = payload.get("cases") or []
    if not ids:
        return None
    cases = (await session.exec(select(Case).where(Case.id.in_(ids), Case.status.in_(REVIEWABLE))
                                .order_by(Case.id))).all()
    lines = [t("review.resubmitted_line" if c.status == S.RESUBMITTED else "review.new_line", code=c.code,
               name=c.name) for c in cases]
    return _digest(lines) if lines else None


def digest_lookup(person_ids: Collection[int], since: datetime) -> Select:
    """These people's waiting digests and those sent since `since` (a few rows each), locked in id order."""
    return (select(Outbox).where(
        # The kind as a literal, so that PostgreSQL's generic plan of it still matches the index (ix_outbox_newcases).
        Outbox.person_id.in_(person_ids), Outbox.kind == written_in(NEW_CASES),
        or_(Outbox.status == OutboxStatus.PENDING, and_(Outbox.status == OutboxStatus.SENT, Outbox.sent_at >= since)))
        .order_by(Outbox.id).with_for_update())


async def _digests_or_last_notices(session: AsyncSession, person_ids: list[int],
                                   since: datetime) -> dict[int, tuple[Outbox | None, datetime | None]]:
    """By person: their digest still waiting to go (locked: two submissions must not overwrite each other), else
    when their last one went, if since `since`. One look-up for all the secretaries of a commune."""
    found: dict[int, tuple[Outbox | None, datetime | None]] = {}
    for row in (await session.exec(digest_lookup(person_ids, since))).all():
        waiting, recent = found.get(row.person_id, (None, None))
        if row.status == OutboxStatus.PENDING:
            waiting = row  # the newest, should there be two
        elif recent is None or row.sent_at > recent:
            recent = row.sent_at
        found[row.person_id] = (waiting, recent)
    return {person: (waiting, None if waiting else recent) for person, (waiting, recent) in found.items()}


async def _join_digest(session: AsyncSession, waiting: Outbox, line: str, case_id: int) -> bool:
    payload = dict(waiting.payload)
    payload["text"] = payload["text"] + "\n" + line
    payload["cases"] = [*payload.get("cases", []), case_id]
    result = await session.execute(update(Outbox).where(Outbox.id == waiting.id, Outbox.status == OutboxStatus.PENDING)
                                   .values(payload=payload).execution_options(synchronize_session=False))
    return result.rowcount == 1  # the sender may have claimed it meanwhile: then a new notice
