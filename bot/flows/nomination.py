"""The nomination conversation, declared as data: each step, its prompt, how it is parsed,
where the answer goes (the step id) and when it is asked. A commune's variant, or the
fix-a-returned-case flow, is another tuple of the same steps.
"""

from __future__ import annotations

from typing import Any

from bot.flows.engine import UNKNOWN, Answers, Context, Flow, Step, StepKind
from bot.parsing import (
    Invalid,
    Option,
    format_phone_local,
    is_skip,
    match_ethnicity,
    parse_name,
    parse_phone,
    parse_text,
    parse_when,
    parse_year,
)
from common.messages import t
from common.vocab import CASE_KINDS, COMMON_ETHNIC_GROUPS, FIELDS

KIND_OPTIONS = tuple(Option(key, label) for key, label in CASE_KINDS)
FIELD_OPTIONS = tuple(Option(str(n), label) for n, label in enumerate(FIELDS, start=1))
# One tap (or its number) for the usual answers; any date, month or phrase can still be typed.
WHEN_OPTIONS = tuple(Option(key, t(f"nom.when.{key}")) for key in ("today", "this_week", "this_month", "last_month"))
CONSENT_OPTIONS = (
    Option("yes", t("nom.consent.yes")),
    Option("no", t("nom.consent.no")),
    Option("not_asked", t("nom.consent.not_asked"), ("chua", "chua hoi")),
)


def is_individual(answers: Answers) -> bool:
    return answers.get("kind") == "ca_nhan"


def has_representative(answers: Answers) -> bool:
    return not is_individual(answers) and bool(answers.get("rep_name"))


def _name_prompt(answers: Answers, ctx: Context) -> str:
    return t(f"nom.name.prompt.{answers.get('kind', 'ca_nhan')}")


def _photos_prompt(answers: Answers, ctx: Context) -> str:
    return t("nom.photos.prompt_files" if ctx.photo_files else "nom.photos.prompt")


def _address_prompt(answers: Answers, ctx: Context) -> str:
    return t("nom.address.prompt", home=ctx.home_address) if ctx.home_address else t("nom.address.prompt_nohome")


def _address_options(answers: Answers, ctx: Context) -> tuple[Option, ...]:
    return (Option("home", ctx.home_address),) if ctx.home_address else ()


def _movement_options(answers: Answers, ctx: Context) -> tuple[Option, ...]:
    return ctx.movements + (Option(UNKNOWN, t("nom.unknown")),)


def _text(min_len: int, max_len: int):
    return lambda text, ctx: parse_text(text, min_len=min_len, max_len=max_len)


def _name(text: str, ctx: Context) -> str:
    return parse_name(text)


def _address(text: str, ctx: Context) -> str:
    if is_skip(text):  # the address is needed: "bỏ qua" is not one
        raise Invalid("address.required")
    return parse_text(text, min_len=3, max_len=300)


def _year(text: str, ctx: Context) -> int | None:
    return parse_year(text, ctx.today)


def _when(text: str, ctx: Context) -> dict[str, Any]:
    when = parse_when(text, ctx.today)
    return {"start": when.start.isoformat(), "precision": when.precision, "label": when.label()}


def _position(text: str, ctx: Context) -> str:
    return t("nom.no_position") if is_skip(text) else parse_text(text, min_len=1, max_len=200)


def _phone(text: str, ctx: Context) -> str | None:
    return None if is_skip(text) else parse_phone(text)


def _show_when(value: dict[str, Any]) -> str:
    return value.get("label", "") if isinstance(value, dict) else str(value)


def _show_photos(value: list[Any]) -> str:
    return t("summary.photos", count=len(value or []))


NOMINATION = Flow(
    name="nomination",
    intro="nom.start",
    steps=(
        Step("kind", StepKind.CHOICE, "nom.kind.prompt", "nom.kind.label", "nom.kind.help",
             options=KIND_OPTIONS, columns=3, store_key=True),
        Step("name", StepKind.TEXT, _name_prompt, "nom.name.label", "nom.name.help", parse=_name),
        Step("birth_year", StepKind.TEXT, "nom.birth_year.prompt", "nom.birth_year.label", "nom.birth_year.help",
             options=(Option(UNKNOWN, t("nom.unknown")),), parse=_year, when=is_individual),
        Step("ethnicity", StepKind.CHOICE, "nom.ethnicity.prompt", "nom.ethnicity.label", "nom.ethnicity.help",
             options=tuple(Option(name.lower(), name) for name in COMMON_ETHNIC_GROUPS)
             + (Option(UNKNOWN, t("nom.unknown")),),
             parse=lambda text, ctx: match_ethnicity(text), when=is_individual, columns=3),
        Step("position", StepKind.TEXT, "nom.position.prompt", "nom.position.label", "nom.position.help",
             options=(Option("none", t("nom.no_position")),), parse=_position, when=is_individual),
        Step("rep_name", StepKind.TEXT, "nom.rep_name.prompt", "nom.rep_name.label", "nom.rep_name.help",
             parse=_name, when=lambda a: not is_individual(a), skippable=True),
        Step("rep_role", StepKind.TEXT, "nom.rep_role.prompt", "nom.rep_role.label", "nom.rep_role.help",
             parse=_text(1, 200), when=has_representative, skippable=True),
        Step("address", StepKind.TEXT, _address_prompt, "nom.address.label", "nom.address.help",
             options=_address_options, parse=_address),
        Step("field", StepKind.CHOICE, "nom.field.prompt", "nom.field.label", "nom.field.help",
             options=FIELD_OPTIONS),
        Step("movement", StepKind.CHOICE, "nom.movement.prompt", "nom.movement.label", "nom.movement.help",
             options=_movement_options),
        Step("description", StepKind.TEXT, "nom.description.prompt", "nom.description.label",
             "nom.description.help", parse=_text(20, 3000)),
        Step("when", StepKind.TEXT, "nom.when.prompt", "nom.when.label", "nom.when.help",
             options=WHEN_OPTIONS, parse=_when, show=_show_when, columns=2),
        Step("photos", StepKind.PHOTOS, _photos_prompt, "nom.photos.label", "nom.photos.help",
             show=_show_photos),
        Step("phone", StepKind.TEXT, "nom.phone.prompt", "nom.phone.label", "nom.phone.help",
             parse=_phone, skippable=True, show=format_phone_local),
        Step("consent", StepKind.CHOICE, "nom.consent.prompt", "nom.consent.label", "nom.consent.help",
             options=CONSENT_OPTIONS, columns=3, store_key=True),
        Step("summary", StepKind.SUMMARY, "summary.question", help="nom.summary.help"),
    ),
)


# Fixing a returned case: the same questions, starting from the case's answers, visiting first what the
# reviewer flagged, then the summary with "Gửi lại".
FIX = Flow(name="fix", steps=NOMINATION.steps, send_label="summary.resend", fixes_a_case=True)
