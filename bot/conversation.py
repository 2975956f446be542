"""Runs a person's conversation: load the saved state, give the engine one input, act on its
events (store photos, submit the case, look for duplicates), save the new state.

Everything the engine needs from the world is gathered here, so the engine stays pure.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from datetime import timedelta
from typing import Any

from bot import casework
from bot.flows.engine import Context, Engine, Event, Flow, Input, PhotoInput, State, StepKind
from bot.flows.nomination import FIX, NOMINATION
from bot.parsing import Invalid, Option, match_option
from bot.request import Request
from common.events import SHRINKS_PHOTOS, Choice, Fetch, MediaRef, Reply
from common.messages import t
from common.text import fold
from storage import repo
from storage.media import MediaStore, NotAnImage
from storage.models import Case, CaseStatus, CaseVersion, Commune, Unit
from storage.repo import SavedConversation

log = logging.getLogger(__name__)

FLOWS = {flow.name: Engine(flow) for flow in (NOMINATION, FIX)}
FETCH_ATTEMPTS = 3
DUPLICATE_WINDOW = timedelta(days=365)
CACHE_SECONDS = 60.0  # how long a commune's names and movement list are cached in this process
# The channel's ids of the last updates handled, saved beside the flow state: a redelivered update
# (after a crash, before the channel heard we had it) is recognised and not answered twice.
HANDLED = "handled_updates"
REMEMBERED_UPDATES = 50  # update ids remembered per conversation
PHOTO_HINTS = 10_000  # people whose last step this process remembers
RESUME_OFFERED = "resume_offered"  # saved beside the flow state while "continue or start over?" waits
RESUME_OPTIONS = (Option("continue", t("draft.continue"), ("tiep tuc", "lam tiep")),
                  Option("restart", t("draft.restart"), ("lam moi", "bat dau lai")))


class ConversationService:
    def __init__(self, media: MediaStore, max_photo_bytes: int) -> None:
        self.media = media
        self.max_photo_bytes = max_photo_bytes
        # Names that change rarely, cached in this process: a renamed village shows within a minute.
        self._movements: dict[str, tuple[float, tuple[Option, ...]]] = {}
        self._homes: dict[str, tuple[float, str]] = {}
        self._photo_hints = _Hints(PHOTO_HINTS)

    # ---- starting and resuming
    async def start_nomination(self, request: Request, seen: SavedConversation | None) -> list[Reply]:
        engine = FLOWS[NOMINATION.name]
        outcome = engine.start(await self._context(request))
        self._save(request, NOMINATION.name, outcome.state, seen)
        replies = outcome.replies
        replies[0] = Reply(replies[0].text, replies[0].choices, replies[0].columns, menu=())
        return replies

    async def start_fix(self, request: Request, case: Case) -> list[Reply]:
        """Open a returned case for fixing: the reason, then the flagged answers, then the summary."""
        photos = await repo.case_photos(request.session, case.id)
        answers = {**{k: v for k, v in case.answers.items() if k != "photo_count"}, "photos": photos}
        flagged = [f for f in case.fix_fields if f in {s.id for s in FIX.applicable(answers)}]
        state = State(step=flagged[0] if flagged else "summary", answers=answers, editing=bool(flagged),
                      queue=flagged[1:], data={"case_id": case.id})
        self._save(request, FIX.name, state, None)
        ctx = await self._context(request)
        fields = ", ".join(t(FIX.step(f).label) for f in flagged) or t("fix.any_field")
        intro = Reply(t("fix.start", code=case.code, reason=case.reason or "—", fields=fields), menu=())
        return [intro, FLOWS[FIX.name].prompt(state, ctx)]

    def offer_resume(self, request: Request, conversation: SavedConversation) -> list[Reply]:
        """Continue the draft or start over? The offer is noted in the saved state, so a typed answer
        ("1", "lam moi") answers it, not the draft's current question."""
        self._write(request, conversation, conversation.flow, {**conversation.state, RESUME_OFFERED: True})
        return [_resume_offer(conversation)]

    async def resume(self, request: Request, conversation: SavedConversation, start_over: bool) -> list[Reply]:
        if start_over:
            self.end(request, conversation)
            return await self.start_nomination(request, None)
        state = {k: v for k, v in conversation.state.items() if k != RESUME_OFFERED}
        self._write(request, conversation, conversation.flow, state)
        return await self.reprompt(request, conversation)

    async def _answer_resume_offer(self, request: Request, conversation: SavedConversation,
                                   text: str) -> list[Reply]:
        try:
            picked = match_option(text, RESUME_OPTIONS)
        except Invalid:
            return [Reply(t("choice.unknown", count=len(RESUME_OPTIONS))), _resume_offer(conversation)]
        return await self.resume(request, conversation, start_over=picked.key == "restart")

    async def reprompt(self, request: Request, conversation: SavedConversation) -> list[Reply]:
        engine = FLOWS[conversation.flow]
        return [engine.prompt(State.from_json(conversation.state), await self._context(request))]

    # ---- one input
    def already_handled(self, request: Request, conversation: SavedConversation) -> bool:
        sequence = request.event.sequence
        return sequence is not None and sequence in conversation.state.get(HANDLED, [])

    async def handle(self, request: Request, conversation: SavedConversation, inp: Input) -> list[Reply]:
        if inp.text and conversation.state.get(RESUME_OFFERED):
            return await self._answer_resume_offer(request, conversation, inp.text)
        engine = FLOWS[conversation.flow]
        ctx = await self._context(request)
        outcome = engine.handle(State.from_json(conversation.state), inp, ctx)
        if Event.CANCELLED in outcome.events:
            self.end(request, conversation)
            return _with_menu(outcome.replies, request)
        if Event.SUBMIT in outcome.events:
            if engine.flow.fixes_a_case:
                return await self._resubmit(request, conversation, outcome.state)
            return await self._submit(request, conversation, outcome.state)
        replies = outcome.replies
        if Event.SUMMARY in outcome.events:
            replies = await self._duplicate_warning(request, outcome.state) + replies
        self._save(request, conversation.flow, outcome.state, conversation)
        return replies

    def _save(self, request: Request, flow: str, state: State, seen: SavedConversation | None) -> None:
        self._write(request, seen, flow, state.to_json())
        self._photo_hints.note(_person_key(request), FLOWS[flow].flow.photo_step_for(state) is not None)

    @staticmethod
    def _write(request: Request, seen: SavedConversation | None, flow: str, state: dict[str, Any]) -> None:
        handled = list(seen.state.get(HANDLED, [])) if seen else []
        if request.event.sequence is not None:
            handled = (handled + [request.event.sequence])[-REMEMBERED_UPDATES:]
        request.write_conversation(repo.ConversationWrite(request.person.id, seen, flow, {**state, HANDLED: handled}))

    def end(self, request: Request, conversation: SavedConversation) -> None:
        request.write_conversation(repo.ConversationWrite(request.person.id, conversation))
        self._photo_hints.note(_person_key(request), False)

    def surely_wants_photos(self, channel: str, user_id: str) -> bool:
        """This process last left the person's conversation waiting for photos: a hint that saves a
        query before a download. Never a refusal: another worker may have moved the conversation on."""
        return (channel, user_id) in self._photo_hints

    def wants_photos(self, conversation: SavedConversation) -> bool:
        return FLOWS[conversation.flow].flow.photo_step_for(State.from_json(conversation.state)) is not None

    async def download(self, refs: tuple[MediaRef, ...], fetch: Fetch) -> PhotoInput:
        """Download, check and keep each photo, outside any transaction; failures are named."""
        results = await asyncio.gather(*(self._fetch_one(ref, fetch) for ref in refs))
        stored = tuple(r for r in results if isinstance(r, dict))
        return PhotoInput(stored, tuple(r for r in results if isinstance(r, tuple)))

    async def _fetch_one(self, ref: MediaRef, fetch: Fetch) -> dict[str, Any] | tuple[str, str]:
        name = ref.file_name or ""  # a photo (not a file) has none: its message says "the photo" instead
        if ref.file_size and ref.file_size > self.max_photo_bytes:
            return ("photos.too_big", name)
        # The declared type is not trusted either way (phones label JPEGs application/octet-stream):
        # what decodes as an image is one.
        data = await self._download(ref, fetch)
        if data is None:
            return ("photos.fetch_failed", name)
        if len(data) > self.max_photo_bytes:
            return ("photos.too_big", name)
        try:
            info = await self.media.save(data)
        except NotAnImage:
            return ("photos.not_image", name)
        return info.row()

    async def _download(self, ref: MediaRef, fetch: Fetch) -> bytes | None:
        for attempt in range(FETCH_ATTEMPTS):
            try:
                return await fetch(ref)
            except Exception as exc:  # network, channel error: retry, then tell the user, keep the draft
                log.warning("photo download failed (attempt %d): %r", attempt + 1, exc)
                await asyncio.sleep(0.2 * 2**attempt)
        return None

    # ---- events
    async def _submit(self, request: Request, conversation: SavedConversation, state: State) -> list[Reply]:
        session, now = request.session, request.now
        membership = request.cadre_membership()
        if membership is None:  # no longer a cadre (revoked meanwhile): nothing to submit for
            self.end(request, conversation)
            return [Reply(t("role.not_cadre"), with_main_menu=True)]
        answers, photos = case_answers(NOMINATION, state)
        number = await repo.next_case_number(session, now.year)
        case = Case(
            code=f"NT-{now.year}-{number:05d}", commune_code=membership.commune_code, unit_id=membership.unit_id,
            nominator_id=request.person.id, status=CaseStatus.SUBMITTED, submitted_at=now, updated_at=now,
            **case_columns(answers))
        await repo.add_case(session, case, photos, request.person.id)
        self.end(request, conversation)
        await casework.tell_secretaries_new(session, case, now)
        log.info("case %s submitted by person %s", case.code, request.person.id)
        text = t("nom.submitted", code=case.code, status=casework.status_label(case.status))
        return [Reply(text, with_main_menu=True)]

    async def _resubmit(self, request: Request, conversation: SavedConversation, state: State) -> list[Reply]:
        """The fixed case goes back to review; the earlier answers and photos are kept as a version."""
        session, now = request.session, request.now
        case = await session.get(Case, state.data.get("case_id"))
        self.end(request, conversation)
        if case is None or case.nominator_id != request.person.id:
            return [Reply(t("fix.gone"), with_main_menu=True)]
        answers, photos = case_answers(FIX, state)
        old_photos = [p["sha256"] for p in await repo.case_photos(session, case.id)]
        changed = [key for key in sorted(set(answers) | set(case.answers))
                   if key != "photo_count" and answers.get(key) != case.answers.get(key)]
        changed += ["photos"] if photos != old_photos else []
        previous = CaseVersion(case_id=case.id, version=case.version, answers=case.answers, photos=old_photos,
                               created_at=now)
        moved = await casework.transition(session, case, "resubmit", request.person.id, now,
                                          details={"changed": changed},
                                          values=dict(**case_columns(answers), version=case.version + 1,
                                                      fix_fields=[]))
        if moved is None:
            return [Reply(t("fix.gone"), with_main_menu=True)]
        session.add(previous)
        await repo.replace_case_photos(session, case.id, photos)
        await casework.tell_secretaries_new(session, moved, now, resubmitted=True)
        return [Reply(t("fix.resubmitted", code=case.code), with_main_menu=True)]

    async def _duplicate_warning(self, request: Request, state: State) -> list[Reply]:
        membership = request.cadre_membership()
        name = state.answers.get("name")
        if membership is None or not name:
            return []
        async with request.reading() as reading:
            cases = await repo.same_name_cases(reading, membership.commune_code, name, request.now - DUPLICATE_WINDOW)
        cases = [c for c in cases if c.id != state.data.get("case_id")]  # not the case being fixed
        if not cases:
            return []
        listed = "; ".join(f"{c.code} ({casework.status_label(c.status)})" for c in cases)
        return [Reply(t("nom.duplicate", cases=listed))]

    # ---- context
    async def _context(self, request: Request) -> Context:
        membership = request.cadre_membership()
        home, movements = "", ()
        if membership is not None and membership.commune_code:
            home = await self._home_address(request, membership.unit_id, membership.commune_code)
            movements = await self._movement_options(request, membership.commune_code)
        return Context(today=request.now.date(), home_address=home, movements=movements,
                       photo_files=request.event.channel in SHRINKS_PHOTOS)

    async def _home_address(self, request: Request, unit_id: int | None, commune_code: str) -> str:
        key = f"{commune_code}:{unit_id}"
        cached = self._homes.get(key)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        async with request.reading() as reading:
            commune = await reading.get(Commune, commune_code)
            unit = await reading.get(Unit, unit_id) if unit_id else None
        home = ", ".join(p for p in (unit.name if unit else "", commune.name if commune else "",
                                     commune.province_name if commune else "") if p)
        self._homes[key] = (time.monotonic(), home)
        return home

    async def _movement_options(self, request: Request, commune_code: str) -> tuple[Option, ...]:
        cached = self._movements.get(commune_code)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        async with request.reading() as reading:
            rows = await repo.movements_for(reading, commune_code)
        options = tuple(Option(f"m{m.id}", m.name) for m in rows)
        self._movements[commune_code] = (time.monotonic(), options)
        return options


def case_answers(flow: Flow, state: State) -> tuple[dict[str, Any], list[str]]:
    """The answers a case keeps (those that apply, with the photo count) and its photos' SHA-256."""
    answers = {s.id: state.answers.get(s.id) for s in flow.applicable(state.answers) if s.id in state.answers}
    photo_steps = [s.id for s in flow.steps if s.kind is StepKind.PHOTOS]
    photos = [p["sha256"] for step_id in photo_steps for p in answers.pop(step_id, None) or []]
    answers["photo_count"] = len(photos)
    return answers, photos


def case_columns(answers: dict[str, Any]) -> dict[str, Any]:
    """The case's own columns, from its answers: written the same way by a submission and a fix."""
    return {"answers": answers, "kind": answers["kind"], "name": answers["name"], "name_key": fold(answers["name"]),
            "field": answers.get("field") or "", "movement": answers.get("movement") or ""}


def _resume_offer(conversation: SavedConversation) -> Reply:
    state = State.from_json(conversation.state)
    name = state.answers.get("name") or "—"
    choices = tuple(Choice(o.label, f"draft:{o.key}") for o in RESUME_OPTIONS)
    return Reply(t("draft.exists", name=name, answered=len(state.history)), choices)


def _person_key(request: Request) -> tuple[str, str]:
    return request.event.channel, request.event.user_id


class _Hints(OrderedDict):
    """A bounded set of people, the least recently noted dropped first."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def note(self, key: tuple[str, str], present: bool) -> None:
        if not present:
            self.pop(key, None)
            return
        self[key] = True
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)


def _with_menu(replies: list[Reply], request: Request) -> list[Reply]:
    if not replies:
        return replies
    last = replies[-1]
    return replies[:-1] + [Reply(last.text, last.choices, last.columns, with_main_menu=True)]
