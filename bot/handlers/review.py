"""Reviewing cases: /choduyet (the pending list), opening a case, Duyệt / Trả lại / Từ chối with a
reason, /khenthuong (record a commendation), /rut (the nominator withdraws), /sua (fix a returned case).

Every action checks the person's scope on the case itself, so a forged or old button naming another
commune's case gets the same answer as a case that does not exist.
"""

from __future__ import annotations

import logging
import re

from bot import casework
from bot.flows.engine import Context, Engine
from bot.flows.nomination import NOMINATION
from bot.parsing import Invalid, parse_when, row_id
from bot.request import Request
from common.events import Choice, Reply
from common.messages import t
from storage import repo, stats
from storage.models import Case, Membership, PendingAction, Role, Unit

log = logging.getLogger(__name__)

PAGE = 5
SUMMARY = Engine(NOMINATION)
REASON_MIN = 5


def _communes(memberships: list[Membership]) -> list[str]:
    return [m.commune_code for m in memberships if m.role == Role.SECRETARY and m.commune_code]


def refused(request: Request, what: str, case_ref: object) -> list[Reply]:
    log.warning("refused: person %s tried %s on case %s", request.person.id if request.person else None, what,
                case_ref)
    return [Reply(t("case.not_found", code=str(case_ref)[:32]))]


# ---- the pending list
async def pending(request: Request, page: int = 1) -> list[Reply]:
    communes = _communes(request.memberships)
    if not communes:
        return [Reply(t("review.not_secretary"))]
    found = await stats.pending_page(request.session, communes, page, PAGE)
    if not found.total:
        return [Reply(t("review.none_pending"))]
    page, pages, total, cases = found.number, found.pages, found.total, found.rows
    tz = request.settings.zone
    lines = [t("review.pending_title", total=total, page=page, pages=pages)]
    lines += [t("review.pending_line", code=c.code, name=c.name, status=casework.status_label(c.status),
                date=c.updated_at.astimezone(tz).strftime("%d/%m")) for c in cases]
    choices = [Choice(f"{c.code} – {c.name}"[:60], f"rv:open:{c.id}") for c in cases]
    if page > 1:
        choices.append(Choice(t("page.previous"), f"rv:page:{page - 1}"))
    if page < pages:
        choices.append(Choice(t("page.next"), f"rv:page:{page + 1}"))
    return [Reply("\n".join(lines), tuple(choices), choices_listed=True)]


async def pending_command(request: Request) -> list[Reply]:
    args = request.event.args.strip()
    return await pending(request, row_id(args) or 1)


# ---- one case
async def describe(request: Request, case: Case, *, actions: bool) -> list[Reply]:
    """The case in full, its photos, what changed at the last resubmission, and the decisions."""
    session = request.session
    unit = await session.get(Unit, case.unit_id) if case.unit_id else None
    photos = await repo.case_photos(session, case.id)
    answers = {**case.answers, "photos": photos}
    lines = [t("review.case_title", code=case.code, status=casework.status_label(case.status),
               unit=unit.name if unit else "—"),
             *SUMMARY.summary_lines(answers, Context(today=request.now.date()))]
    last = await repo.last_case_event(session, case.id)
    if last is not None and last.details.get("changed"):
        labels = [t(NOMINATION.step(f).label) for f in last.details["changed"] if _is_step(f)]
        lines.append(t("review.changed", fields=", ".join(labels)))
    if case.reason:
        lines.append(t("review.reason_line", reason=case.reason))
    choices: tuple[Choice, ...] = ()
    if actions and case.status in casework.REVIEWABLE:
        choices = (Choice(t("review.approve"), f"rv:ok:{case.id}"), Choice(t("review.return"), f"rv:ret:{case.id}"),
                   Choice(t("review.reject"), f"rv:rej:{case.id}"))
    return [Reply("\n".join(lines), choices, columns=3, photos=tuple(p["sha256"] for p in photos))]


def _is_step(field_id: str) -> bool:
    return any(s.id == field_id for s in NOMINATION.steps)


async def _case_for_review(request: Request, case_id: str) -> Case | None:
    case = await request.session.get(Case, row_id(case_id)) if row_id(case_id) else None
    return case if case is not None and casework.reviews(request.memberships, case) else None


async def choose(request: Request, value: str) -> list[Reply]:
    """A reviewer's button: rv:<action>:<case id>[:<field>]."""
    _, action, *rest = value.split(":")
    if action == "page":
        return await pending(request, (row_id(rest[0]) if rest else None) or 1)
    if action == "cancel":
        await _clear_pending(request)
        return [Reply(t("review.cancelled"))]
    case = await _case_for_review(request, rest[0] if rest else "")
    if case is None:
        return refused(request, f"rv:{action}", rest[0] if rest else "?")
    if action == "open":
        return await describe(request, case, actions=True)
    if case.status not in casework.REVIEWABLE:
        return [Reply(t("review.already", code=case.code, status=casework.status_label(case.status)))]
    if action == "ok":
        return await _decide(request, case, "approve", reason="")
    if action in ("ret", "rej"):
        return await _ask_reason(request, case, "return" if action == "ret" else "reject")
    if action == "flag" and len(rest) > 1:
        return await _toggle_flag(request, case, rest[1])
    request.drop_menu = True
    return [Reply(t("input.question_over"))]


async def _ask_reason(request: Request, case: Case, action: str) -> list[Reply]:
    await _clear_pending(request)
    request.session.add(PendingAction(person_id=request.person.id, action=action, case_id=case.id,
                                      data={"fields": []}, created_at=request.now))
    if action == "reject":
        return [Reply(t("review.ask_reject", code=case.code), (Choice(t("review.cancel"), "rv:cancel"),))]
    flags = tuple(Choice(t(s.label), f"rv:flag:{case.id}:{s.id}")
                  for s in NOMINATION.applicable(case.answers) if s.label)
    return [Reply(t("review.ask_return", code=case.code), flags + (Choice(t("review.cancel"), "rv:cancel"),),
                  columns=2)]


async def _toggle_flag(request: Request, case: Case, field_id: str) -> list[Reply]:
    action = await request.session.get(PendingAction, request.person.id)
    if action is None or action.case_id != case.id or action.action != "return" or not _is_step(field_id):
        request.drop_menu = True
        return [Reply(t("input.question_over"))]
    fields = list(action.data.get("fields", []))
    fields = [f for f in fields if f != field_id] if field_id in fields else fields + [field_id]
    action.data = {**action.data, "fields": fields}
    labels = ", ".join(t(NOMINATION.step(f).label) for f in fields) or "—"
    return [Reply(t("review.flagged", fields=labels))]


async def reason_typed(request: Request, action: PendingAction) -> list[Reply]:
    """The text a reviewer typed after Trả lại / Từ chối: the reason."""
    reason = " ".join(request.event.text.split())
    if reason.isdigit():  # a field's number out of the list (on Zalo the fields are numbered), not a reason
        return [Reply(t("review.reason_number"))]
    if len(reason) < REASON_MIN:
        return [Reply(t("review.reason_short", min=REASON_MIN))]
    if len(reason) > casework.REASON_MAX:
        return [Reply(t("invalid.text.too_long", max=casework.REASON_MAX, length=len(reason)))]
    case = await request.session.get(Case, action.case_id)
    await _clear_pending(request)
    request.drop_menu = True  # the fields flagged: their numbered list ends with the question
    if case is None or not casework.reviews(request.memberships, case):
        return refused(request, action.action, action.case_id)
    return await _decide(request, case, action.action, reason=reason, fields=action.data.get("fields", []))


async def _decide(request: Request, case: Case, name: str, *, reason: str, fields: list[str] = ()) -> list[Reply]:
    previous = case.status
    values = {"reason": reason}
    if name == "return":
        values["fix_fields"] = list(fields)
    moved = await casework.transition(request.session, case, name, request.person.id, request.now, reason=reason,
                                      details={"fields": list(fields)} if fields else {}, values=values)
    if moved is None:
        await request.session.refresh(case)
        return [Reply(t("review.already", code=case.code, status=casework.status_label(case.status)))]
    await _tell(request, moved, name, reason, fields)
    log.info("case %s: %s → %s by person %s", case.code, previous, moved.status, request.person.id)
    return [Reply(t(f"review.done.{name}", code=case.code))]


async def _tell(request: Request, case: Case, name: str, reason: str, fields: list[str]) -> None:
    if name == "return":
        labels = ", ".join(t(NOMINATION.step(f).label) for f in fields) or t("fix.any_field")
        text = t("notify.returned", code=case.code, name=case.name, reason=reason, fields=labels)
        choices = (Choice(t("notify.fix_now"), f"fix:{case.id}"),)
    elif name == "approve":
        text, choices = t("notify.approved", code=case.code, name=case.name), ()
    elif name == "reject":
        text, choices = t("notify.rejected", code=case.code, name=case.name, reason=reason), ()
    else:
        c = case.commendation
        text, choices = t("notify.commended", code=case.code, name=case.name, form=c.get("form", ""),
                          decision=c.get("decision", ""), date=c.get("date", "")), ()
    await casework.tell_nominator(request.session, case, text, request.now, choices)


async def _clear_pending(request: Request) -> None:
    action = await request.session.get(PendingAction, request.person.id)
    if action is not None:
        await request.session.delete(action)
        await request.session.flush()


# ---- /khenthuong NT-2026-00042; Giấy khen của Chủ tịch UBND xã; 123/QĐ-UBND; 15/12/2026
# Parts apart by ";", "|" or a line break (a phone's keyboard has ";" on its first page of symbols, "|" deeper).
async def commend(request: Request) -> list[Reply]:
    parts = [p.strip() for p in re.split(r"[|;\n]", request.event.args)]
    head = parts[0].split(None, 1)
    if len(parts) == 3 and len(head) == 2:  # "NT-2026-00042 Giấy khen …; 123/QĐ; 15/12/2026"
        parts = [*head, *parts[1:]]
    if len(parts) != 4 or not all(parts) or not casework.CASE_CODE.match(parts[0]):
        return [Reply(t("commend.usage"))]
    code, form, decision, day = parts
    case = await repo.case_by_code(request.session, code)
    if case is None or not casework.reviews(request.memberships, case):
        return refused(request, "commend", code)
    try:
        when = parse_when(day, request.now.date())
    except Invalid:
        return [Reply(t("commend.bad_date"))]
    if len(form) > 300 or len(decision) > 100:
        return [Reply(t("commend.usage"))]
    commendation = {"form": form, "decision": decision, "date": when.label()}
    moved = await casework.transition(request.session, case, "commend", request.person.id, request.now,
                                      details=commendation, values={"commendation": commendation})
    if moved is None and case.status == casework.S.COMMENDED:
        return [Reply(t("commend.already", code=case.code))]
    if moved is None:
        return [Reply(t("commend.not_approved", code=case.code, status=casework.status_label(case.status)))]
    await _tell(request, moved, "commend", "", [])
    return [Reply(t("review.done.commend", code=case.code))]


# ---- the nominator's own actions
async def _own_case(request: Request) -> Case | None:
    code = request.event.args.strip().split()[0] if request.event.args.strip() else ""
    case = await repo.case_by_code(request.session, code) if casework.CASE_CODE.match(code) else None
    return case if case is not None and case.nominator_id == request.person.id else None


async def withdraw_command(request: Request) -> list[Reply]:
    if not request.event.args.strip():
        return [Reply(t("withdraw.usage"))]
    case = await _own_case(request)
    if case is None:
        return refused(request, "withdraw", request.event.args.strip()[:32])
    if case.status not in casework.TRANSITIONS["withdraw"].sources:
        return [Reply(t("withdraw.too_late", code=case.code, status=casework.status_label(case.status)))]
    return [Reply(t("withdraw.confirm", code=case.code, name=case.name),
                  (Choice(t("withdraw.yes"), f"wd:{case.id}"), Choice(t("cancel.no"), "wd:no")), columns=2)]


async def withdraw_choice(request: Request, value: str) -> list[Reply]:
    case_id = value.partition(":")[2]
    if case_id == "no":
        return [Reply(t("withdraw.kept"))]
    case = await request.session.get(Case, row_id(case_id)) if row_id(case_id) else None
    if case is None or case.nominator_id != request.person.id:
        return refused(request, "withdraw", case_id)
    moved = await casework.transition(request.session, case, "withdraw", request.person.id, request.now)
    if moved is None:
        return [Reply(t("withdraw.too_late", code=case.code, status=casework.status_label(case.status)))]
    return [Reply(t("withdraw.done", code=case.code))]


async def fix_target(request: Request, case_ref: str) -> Case | str:
    """The returned case the person may fix, or what to tell them why not (by the case's code, never its row)."""
    case = await request.session.get(Case, row_id(case_ref)) if row_id(case_ref) else \
        await repo.case_by_code(request.session, case_ref) if casework.CASE_CODE.match(case_ref) else None
    if case is None or case.nominator_id != request.person.id:
        return t("fix.gone") if row_id(case_ref) else t("case.not_found", code=case_ref.upper()[:32])
    if case.status != casework.S.RETURNED:
        return t("fix.not_returned", code=case.code)
    return case
