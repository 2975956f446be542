"""A small engine for conversations declared as data (in the spirit of RapidPro's goflow).

A `Flow` is a list of `Step`s. The engine is pure: given the saved state, one input and a context,
it returns the new state, the replies and the events (such as "submit") that the caller acts on.
It does no I/O; photos arrive already fetched and checked, as `PhotoInput`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any

from bot.parsing import Invalid, Option, is_skip, match_option
from common.events import Choice, Reply
from common.messages import t
from common.text import compact, fold


class StepKind(StrEnum):
    CHOICE = "choice"  # one of the options (buttons, a number, or the label typed)
    TEXT = "text"  # free text, parsed by the step's `parse`
    PHOTOS = "photos"  # photos until "done"
    SUMMARY = "summary"  # review: send, edit, cancel


class Event(StrEnum):
    """What the engine asks the caller to act on."""

    SUBMIT = "submit"  # the summary's send button: the caller writes the case
    CANCELLED = "cancelled"  # the conversation ended without a case
    SUMMARY = "summary"  # the summary is shown (the caller may add warnings before it)


@dataclass(frozen=True)
class Context:
    """What a flow may know about the world, gathered by the caller before the engine runs."""

    today: date
    home_address: str = ""  # the cadre's own village, a one-tap answer for the address
    movements: tuple[Option, ...] = ()
    photo_files: bool = False  # the channel shrinks photos, so sending one as a file is worth a mention


Answers = dict[str, Any]


@dataclass(frozen=True)
class Step:
    id: str  # also the key of the answer
    kind: StepKind
    prompt: Callable[[Answers, Context], str] | str  # catalogue key, or a function giving the text
    label: str = ""  # catalogue key naming the answer in the summary
    help: str = ""
    options: Callable[[Answers, Context], Sequence[Option]] | Sequence[Option] = ()
    # Typed text → the value to store (raise Invalid); for CHOICE steps, typed text that no option
    # matches falls back to `parse` when given (the ethnicity step takes any of the 54 by name).
    parse: Callable[[str, Context], Any] | None = None
    when: Callable[[Answers], bool] = lambda answers: True
    skippable: bool = False
    store_key: bool = False  # keep the option's key (it steers `when`), not its label
    columns: int = 1
    show: Callable[[Any], str] = str  # how the stored value reads in the summary

    def prompt_text(self, answers: Answers, ctx: Context) -> str:
        return self.prompt(answers, ctx) if callable(self.prompt) else t(self.prompt)

    def option_list(self, answers: Answers, ctx: Context) -> Sequence[Option]:
        return self.options(answers, ctx) if callable(self.options) else self.options


@dataclass(frozen=True)
class Flow:
    name: str
    steps: tuple[Step, ...]
    intro: str = ""  # catalogue key said once at the start
    send_label: str = "summary.send"  # the summary's button that ends the flow
    fixes_a_case: bool = False  # submitting sends an existing (returned) case back, not a new one

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)

    def applicable(self, answers: Answers) -> list[Step]:
        return [s for s in self.steps if s.when(answers)]

    def photo_step_for(self, state: State) -> Step | None:
        """The photo step that photos sent now go to: the current step, or the one just answered when the
        person moved on from it by answering the next question (late photos of the same batch)."""
        if state.confirming_cancel or state.picking_edit:
            return None
        current = self.step(state.step)
        if current.kind is StepKind.PHOTOS:
            return current
        previous = self.step(state.history[-1]) if state.history and not state.editing else None
        if previous is not None and previous.kind is StepKind.PHOTOS and current.id not in state.answers:
            applicable = self.applicable(state.answers)
            if previous in applicable and applicable.index(previous) + 1 == applicable.index(current):
                return previous
        return None


@dataclass
class State:
    """The saved position in a flow: JSON-friendly, so it lives in the database."""

    step: str
    answers: Answers = field(default_factory=dict)
    history: list[str] = field(default_factory=list)
    editing: bool = False  # came from the summary: go back to it once the answer is given
    confirming_cancel: bool = False
    confirming_clear: bool = False  # "Xóa hết ảnh" asked: one typed digit must not delete every photo
    picking_edit: bool = False  # the summary's "which answer to change?" list is open
    queue: list[str] = field(default_factory=list)  # steps still to visit while editing (flagged by a reviewer)
    data: dict[str, Any] = field(default_factory=dict)  # what the flow is about (the case being fixed)

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "answers": self.answers,
            "history": self.history,
            "editing": self.editing,
            "confirming_cancel": self.confirming_cancel,
            "confirming_clear": self.confirming_clear,
            "picking_edit": self.picking_edit,
            "queue": self.queue,
            "data": self.data,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        return cls(
            step=data["step"],
            answers=dict(data.get("answers", {})),
            history=list(data.get("history", [])),
            editing=bool(data.get("editing", False)),
            confirming_cancel=bool(data.get("confirming_cancel", False)),
            confirming_clear=bool(data.get("confirming_clear", False)),
            picking_edit=bool(data.get("picking_edit", False)),
            queue=list(data.get("queue", [])),
            data=dict(data.get("data", {})),
        )


@dataclass(frozen=True)
class PhotoInput:
    """Photos the caller fetched and stored; failures say why, by catalogue key and file name."""

    stored: tuple[dict[str, Any], ...] = ()  # {"sha256", "width", "height", "size", "mime_type"}
    failures: tuple[tuple[str, str], ...] = ()  # (catalogue key, file name)


@dataclass(frozen=True)
class Input:
    text: str = ""
    choice: str = ""  # value of a pressed button: "<step id>:<option key>"
    photos: PhotoInput | None = None
    control: str = ""  # "back", "help", "cancel"


@dataclass
class Outcome:
    state: State | None  # None: the conversation is over
    replies: list[Reply] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


MAX_PHOTOS = 10
DONE_WORDS = {"xong", "xong roi", "du roi", "du", "het", "het roi", "het anh", "ok", "done", "gui xong"}
# Option keys that start with "_" carry no value of their own.
SKIP, KEEP, DONE, CLEAR, UNKNOWN = "_skip", "_keep", "_done", "_clear", "_unknown"


class Engine:
    def __init__(self, flow: Flow) -> None:
        self.flow = flow

    # ---- entry points
    def start(self, ctx: Context) -> Outcome:
        state = State(step=self.flow.steps[0].id)
        replies = [Reply(t(self.flow.intro))] if self.flow.intro else []
        return Outcome(state, replies + [self.prompt(state, ctx)])

    def handle(self, state: State, inp: Input, ctx: Context) -> Outcome:
        if state.confirming_cancel:
            return self._answer_cancel(state, inp, ctx)
        if state.confirming_clear:
            return self._answer_clear(state, inp, ctx)
        if inp.control:
            return self._control(state, inp.control, ctx)
        step = self.flow.step(state.step)
        if inp.choice:
            return self._choice(state, step, inp.choice, ctx)
        if inp.photos is not None:
            return self._photos(state, inp.photos, ctx)
        return self._text(state, step, inp.text, ctx)

    def prompt(self, state: State, ctx: Context) -> Reply:
        step = self.flow.step(state.step)
        if step.kind is StepKind.SUMMARY:
            return self._edit_menu(state) if state.picking_edit else self._summary(state, ctx)
        if step.kind is StepKind.PHOTOS and state.answers.get(step.id):  # back at photos it has: say so, ask on
            return self._photos_reply(state, t("photos.have", total=len(state.answers[step.id])), ctx)
        text = step.prompt_text(state.answers, ctx)
        if step.id in state.answers and step.kind is not StepKind.PHOTOS:
            text += "\n" + t("current.value", value=self._show(step, state.answers[step.id], ctx))
        return Reply(text, self._buttons(state, step, ctx), columns=step.columns)

    # ---- controls
    def _control(self, state: State, control: str, ctx: Context) -> Outcome:
        if control == "cancel":
            state.confirming_cancel = True
            choices = (Choice(t(self._cancel_key("cancel.yes")), "cancel:yes"), Choice(t("cancel.no"), "cancel:no"))
            return Outcome(state, [Reply(t(self._cancel_key("cancel.confirm")), choices, columns=2)])
        if control == "back":
            return self._back(state, ctx)
        step = self.flow.step(state.step)
        return Outcome(state, [Reply(t(step.help)) if step.help else Reply(t("help.general")),
                               self.prompt(state, ctx)])

    def _cancel_key(self, key: str) -> str:
        """Cancelling a fix drops the changes, not the case (it stays returned): the words must say so."""
        return key + "_fix" if self.flow.fixes_a_case else key

    def _answer_cancel(self, state: State, inp: Input, ctx: Context) -> Outcome:
        options = (Option("yes", t(self._cancel_key("cancel.yes")), ("co", "huy", "yes")),
                   Option("no", t("cancel.no"), ("khong", "no")))
        key = inp.choice.removeprefix("cancel:") if inp.choice.startswith("cancel:") else ""
        if not key and inp.text:
            try:
                key = match_option(inp.text, options).key
            except Invalid:
                key = ""
        if key == "yes":
            return Outcome(None, [Reply(t(self._cancel_key("cancel.done")))], [Event.CANCELLED])
        state.confirming_cancel = False
        if inp.control == "cancel":  # /huy twice means yes
            return Outcome(None, [Reply(t(self._cancel_key("cancel.done")))], [Event.CANCELLED])
        return Outcome(state, [Reply(t("cancel.kept")), self.prompt(state, ctx)])

    def _back(self, state: State, ctx: Context) -> Outcome:
        applicable = {s.id for s in self.flow.applicable(state.answers)}
        while state.history and state.history[-1] not in applicable:  # the kind changed since
            state.history.pop()
        if not state.history:
            return Outcome(state, [Reply(t("back.none")), self.prompt(state, ctx)])
        state.step = state.history.pop()
        state.editing = state.picking_edit = False
        return self._advance_to(state, ctx)

    # ---- answers
    def _choice(self, state: State, step: Step, value: str, ctx: Context) -> Outcome:
        step_id, _, key = value.partition(":")
        following = self._question_after_photos(state, step)
        if following is not None and step_id == following.id and state.answers.get(step.id):
            return self._leave_photos_then(state, step, following, Input(choice=value), ctx)
        if step_id != step.id:
            return Outcome(state, [Reply(t("input.stale_button")), self.prompt(state, ctx)])
        if step.kind is StepKind.SUMMARY:
            return self._summary_action(state, key, ctx)
        if step.kind is StepKind.PHOTOS:
            return self._photos_control(state, key, ctx)
        if key == SKIP and step.skippable:
            return self._store(state, step, None, ctx)
        if key == KEEP and step.id in state.answers:
            return self._store(state, step, state.answers[step.id], ctx)
        option = next((o for o in step.option_list(state.answers, ctx) if o.key == key), None)
        if option is None:
            return Outcome(state, [Reply(t("input.stale_button")), self.prompt(state, ctx)])
        if step.kind is StepKind.TEXT:  # a helper button on a text step: as if its label were typed
            return self._text(state, step, option.label, ctx, typed=False)
        if option.key.startswith("_"):  # "Không rõ" and the like: no value
            return self._store(state, step, None, ctx)
        return self._store(state, step, option.key if step.store_key else option.label, ctx)

    def _text(self, state: State, step: Step, text: str, ctx: Context, typed: bool = True) -> Outcome:
        if step.kind is StepKind.PHOTOS:
            return self._photo_step_text(state, text, ctx)
        try:
            picked = self._typed_button(state, step, text, ctx) if typed else None
            if picked is not None:
                return self._choice(state, step, picked.value, ctx)
            value = self._parse(step, text, ctx)
        except Invalid as invalid:
            return Outcome(state, [self._invalid_reply(invalid, text, step, state, ctx)])
        return self._store(state, step, value, ctx)

    def _typed_button(self, state: State, step: Step, text: str, ctx: Context) -> Choice | None:
        """The button a typed answer names: its number, or its label (with or without diacritics).

        On a choice step a typed answer must name an option (unless the step parses free text too);
        on a text step only a number or the exact label picks a helper button (skip, keep, home).
        """
        buttons = self._buttons(state, step, ctx)
        if step.skippable and is_skip(text):
            return next(c for c in buttons if c.value == f"{step.id}:{SKIP}")
        options = [Option(c.value, c.label) for c in buttons]
        if step.kind in (StepKind.CHOICE, StepKind.SUMMARY):
            if step.parse is not None:  # free text too: only an exact button wins over the parser
                return self._exact_button(text, buttons, options, step, ctx)
            key = match_option(text, options).key
            return next(c for c in buttons if c.value == key)
        wanted = compact(text)
        if text.strip().isdigit() and 1 <= int(text) <= len(buttons) and len(text.strip()) <= 2:
            return buttons[int(text) - 1]
        return next((c for c in buttons if compact(c.label) == wanted), None)

    def _exact_button(self, text: str, buttons: tuple[Choice, ...], options: list[Option], step: Step,
                      ctx: Context) -> Choice | None:
        """Exact label or number first; then the step's parser ("K'Ho" is an ethnic group, not a prefix
        of "Không rõ"); only if the parser fails too, a unique part of a label."""
        try:
            key = match_option(text, options, fuzzy=False).key
            return next(c for c in buttons if c.value == key)
        except Invalid:
            pass
        try:
            step.parse(text, ctx)
            return None  # the parser takes it
        except Invalid as parse_error:
            try:
                key = match_option(text, options).key
            except Invalid:
                raise parse_error from None
            return next(c for c in buttons if c.value == key)

    def _parse(self, step: Step, text: str, ctx: Context) -> Any:
        return step.parse(text, ctx) if step.parse else text.strip()

    def _invalid_reply(self, invalid: Invalid, text: str, step: Step, state: State, ctx: Context) -> Reply:
        details = dict(invalid.details)
        if invalid.code == "choice.unknown":
            details["count"] = len(self._buttons(state, step, ctx)) or 1
        if invalid.code == "choice.ambiguous":
            details["matches"] = ", ".join(details.get("matches", []))
        if invalid.code == "ethnicity.unknown":
            names = details.get("suggestions") or []
            details["suggestions"] = " " + t("invalid.ethnicity.suggestions", names=", ".join(names)) if names else ""
            details["text"] = text.strip()[:40]
        message = t(f"invalid.{invalid.code}", **details)
        return Reply(message, self._buttons(state, step, ctx), columns=step.columns)

    def _store(self, state: State, step: Step, value: Any, ctx: Context) -> Outcome:
        self._record(state, step, value)
        return self._next(state, step, ctx)

    @staticmethod
    def _record(state: State, step: Step, value: Any) -> None:
        state.answers[step.id] = value
        if step.id not in state.history:
            state.history.append(step.id)
        elif not state.editing:  # answered again after going back: the path continues from here
            state.history = state.history[: state.history.index(step.id) + 1]

    def _next(self, state: State, step: Step, ctx: Context) -> Outcome:
        applicable = self.flow.applicable(state.answers)
        if state.editing:
            state.queue = [q for q in state.queue if q != step.id and q in {s.id for s in applicable}]
            questions = [s for s in applicable if s.kind is not StepKind.SUMMARY]
            following = [s for s in questions if s.id not in state.answers]  # new ones (the kind changed)
            following += [s for s in questions if s.id in state.queue and s not in following]  # flagged
        else:
            after = applicable[applicable.index(step) + 1:] if step in applicable else applicable
            following = after
        state.step = following[0].id if following else self._summary_step().id
        return self._advance_to(state, ctx)

    def _advance_to(self, state: State, ctx: Context) -> Outcome:
        events = [Event.SUMMARY] if state.step == self._summary_step().id else []
        if events:
            state.editing = False
        return Outcome(state, [self.prompt(state, ctx)], events)

    # ---- photos
    def _photos(self, state: State, photos: PhotoInput, ctx: Context) -> Outcome:
        step = self.flow.photo_step_for(state)
        if step is None:
            return Outcome(state, [Reply(t("input.need_text")), self.prompt(state, ctx)])
        have: list[dict[str, Any]] = list(state.answers.get(step.id) or [])
        known = {p["sha256"] for p in have}
        added = duplicates = dropped = 0
        for photo in photos.stored:
            if photo["sha256"] in known:
                duplicates += 1
            elif len(have) >= MAX_PHOTOS:
                dropped += 1
            else:
                have.append(photo)
                known.add(photo["sha256"])
                added += 1
        state.answers[step.id] = have
        replies = [Reply(t(key, name=name) if name else t(f"{key}_unnamed")) for key, name in photos.failures[:3]]
        if len(photos.failures) > 3:
            replies.append(Reply(t("photos.more_failures", count=len(photos.failures) - 3)))
        if dropped:
            replies.append(self._photos_reply(state, t("photos.full", dropped=dropped), ctx))
        elif added:
            replies.append(self._photos_reply(state, t("photos.received", added=added, total=len(have)), ctx))
        elif duplicates:
            replies.append(self._photos_reply(state, t("photos.duplicate", total=len(have)), ctx))
        return Outcome(state, replies)

    def _photos_reply(self, state: State, said: str, ctx: Context) -> Reply:
        """What was received, then what comes next: the next question itself, which answering ends the photo
        step (no "Xong" needed), or, while editing, "send more or Xong"."""
        step = self.flow.step(state.step)
        if step.kind is not StepKind.PHOTOS:  # late photos: the next question was already asked, ask it again
            question = self.prompt(state, ctx)
            return replace(question, text=said + " " + t("photos.then_current") + "\n" + question.text)
        following = self._question_after_photos(state, step)
        if following is None:
            return Reply(said + " " + t("photos.then_done"), self._buttons(state, step, ctx))
        question = following.prompt_text(state.answers, ctx)
        return Reply(said + " " + t("photos.then_next") + "\n" + question, self._buttons(state, step, ctx),
                     columns=following.columns)

    def _question_after_photos(self, state: State, step: Step) -> Step | None:
        """The question after a photo step that has photos, which the person may answer straight away: not
        while editing (the summary comes next then), not the summary."""
        if step.kind is not StepKind.PHOTOS or state.editing or not state.answers.get(step.id):
            return None
        applicable = self.flow.applicable(state.answers)
        after = applicable[applicable.index(step) + 1:] if step in applicable else []
        return after[0] if after and after[0].kind in (StepKind.TEXT, StepKind.CHOICE) else None

    def _leave_photos_then(self, state: State, step: Step, following: Step, inp: Input, ctx: Context) -> Outcome:
        """The person answered the next question: the photos are kept as the step's answer, and the input
        goes to that question."""
        self._record(state, step, state.answers[step.id])
        state.step = following.id
        return self.handle(state, inp, ctx)

    def _photo_step_text(self, state: State, text: str, ctx: Context) -> Outcome:
        """"Xong", "xong rồi", "đủ rồi" end the step; a button's exact label or number does what it says
        (clearing the photos needs that); other text, once there are photos, answers the next question."""
        step = self.flow.step(state.step)
        if fold(text) in DONE_WORDS:
            return self._photos_control(state, DONE, ctx)
        buttons = self._buttons(state, step, ctx)
        try:
            value = match_option(text, [Option(c.value, c.label) for c in buttons], fuzzy=False).key
        except Invalid:
            value = ""
        following = self._question_after_photos(state, step)
        if value.startswith(f"{step.id}:"):
            return self._photos_control(state, value.partition(":")[2], ctx)
        if following is not None:
            return self._leave_photos_then(state, step, following, Input(choice=value) if value else Input(text=text),
                                           ctx)
        return Outcome(state, [Reply(t("photos.need_photo_files" if ctx.photo_files else "photos.need_photo"), buttons)])

    def _answer_clear(self, state: State, inp: Input, ctx: Context) -> Outcome:
        """Yes clears the photos; no keeps them; anything else keeps them and is handled as it comes."""
        state.confirming_clear = False
        options = (Option("yes", t("photos.clear_yes"), ("co", "xoa")), Option("no", t("photos.clear_no"), ("khong",)))
        key = inp.choice.removeprefix("clear:") if inp.choice.startswith("clear:") else ""
        if not key and inp.text and inp.photos is None:
            try:
                key = match_option(inp.text, options).key
            except Invalid:
                key = ""
        step = self.flow.step(state.step)
        if key == "yes" and step.kind is StepKind.PHOTOS:
            state.answers[step.id] = []
            return Outcome(state, [Reply(t("photos.cleared"), self._buttons(state, step, ctx))])
        if key in ("yes", "no"):
            return Outcome(state, [self._photos_reply(state, t("photos.kept"), ctx)])
        return self.handle(state, inp, ctx)

    def _photos_control(self, state: State, key: str, ctx: Context) -> Outcome:
        step = self.flow.step(state.step)
        if key == CLEAR and state.answers.get(step.id):
            state.confirming_clear = True
            choices = (Choice(t("photos.clear_yes"), "clear:yes"), Choice(t("photos.clear_no"), "clear:no"))
            return Outcome(state, [Reply(t("photos.clear_confirm", total=len(state.answers[step.id])), choices,
                                         columns=2)])
        if not state.answers.get(step.id):
            return Outcome(state, [Reply(t("photos.none_to_clear" if key == CLEAR else "photos.need_one"))])
        return self._store(state, step, state.answers[step.id], ctx)

    # ---- summary
    def _summary_step(self) -> Step:
        return next(s for s in self.flow.steps if s.kind is StepKind.SUMMARY)

    def summary_lines(self, answers: Answers, ctx: Context) -> list[str]:
        """Every applicable answer as "• Label: value", as the summary and a reviewer show it."""
        return [f"• {t(step.label)}: {self._show(step, answers.get(step.id), ctx)}"
                for step in self.flow.applicable(answers) if step.kind is not StepKind.SUMMARY and step.label]

    def _summary(self, state: State, ctx: Context) -> Reply:
        lines = [t("summary.title"), *self.summary_lines(state.answers, ctx), "", t("summary.question")]
        choices = (
            Choice(t(self.flow.send_label), "summary:send"),
            Choice(t("summary.edit"), "summary:edit"),
            Choice(t("summary.cancel"), "summary:cancel"),
        )
        return Reply("\n".join(lines), choices, columns=3)

    def _summary_action(self, state: State, key: str, ctx: Context) -> Outcome:
        state.picking_edit = False
        if key == "send":
            return Outcome(state, [], [Event.SUBMIT])
        if key == "cancel":
            return self._control(state, "cancel", ctx)
        if key == "edit":
            state.picking_edit = True
            return Outcome(state, [self._edit_menu(state)])
        if key == "back":
            return Outcome(state, [self._summary(state, ctx)], [Event.SUMMARY])
        if key.startswith("edit."):
            target = key.removeprefix("edit.")
            if target in {s.id for s in self.flow.applicable(state.answers)}:
                state.step, state.editing = target, True
                return Outcome(state, [self.prompt(state, ctx)])
        return Outcome(state, [Reply(t("input.stale_button")), self._summary(state, ctx)])

    def _edit_menu(self, state: State) -> Reply:
        choices = [
            Choice(t(s.label), f"summary:edit.{s.id}")
            for s in self.flow.applicable(state.answers)
            if s.label and s.kind is not StepKind.SUMMARY
        ]
        choices.append(Choice(t("summary.edit_back"), "summary:back"))
        return Reply(t("summary.edit_prompt"), tuple(choices), columns=2)

    # ---- drawing
    def _buttons(self, state: State, step: Step, ctx: Context) -> tuple[Choice, ...]:
        if step.kind is StepKind.SUMMARY:
            return self._edit_menu(state).choices if state.picking_edit else self._summary(state, ctx).choices
        if step.kind is StepKind.PHOTOS:
            following = self._question_after_photos(state, step)
            # With photos, the next question's own buttons replace "Xong" (answering it ends the step);
            # clearing comes last, so that a typed "1" never clears.
            buttons = list(self._buttons(state, following, ctx)) if following else [
                Choice(t("photos.done"), f"{step.id}:{DONE}")]
            if state.answers.get(step.id):
                buttons.append(Choice(t("photos.clear"), f"{step.id}:{CLEAR}"))
            return tuple(buttons)
        buttons = [Choice(o.label, f"{step.id}:{o.key}") for o in step.option_list(state.answers, ctx)]
        if step.skippable:
            buttons.append(Choice(t("choice.skip"), f"{step.id}:{SKIP}"))
        if step.id in state.answers:
            buttons.append(Choice(t("choice.keep"), f"{step.id}:{KEEP}"))
        return tuple(buttons)

    def _show(self, step: Step, value: Any, ctx: Context) -> str:
        if value is None or value == "" or value == []:
            unknown = next((o for o in step.option_list({}, ctx) if o.key == UNKNOWN), None)
            return unknown.label if unknown and value is None else "—"
        if step.store_key:
            return next((o.label for o in step.option_list({}, ctx) if o.key == value), str(value))
        return step.show(value)
