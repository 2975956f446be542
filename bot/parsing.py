"""Parsers of typed answers.

Every answer may arrive as free text (Zalo has no buttons), often without diacritics, so each
parser is tolerant of case, diacritics and punctuation. A parser either returns a clean value or
raises `Invalid` with a machine code; the reply text for each code lives in the message catalogue.
"""

from __future__ import annotations

import calendar
import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from common.messages import t
from common.text import compact, fold
from common.vocab import ETHNIC_GROUPS


class Invalid(ValueError):
    """An answer that does not parse; `code` names the reason for the message catalogue."""

    def __init__(self, code: str, **details: object) -> None:
        super().__init__(code)
        self.code = code
        self.details = details

    def __repr__(self) -> str:
        return f"Invalid({self.code!r}, **{self.details!r})"


# --------------------------------------------------------------------------- choices


@dataclass(frozen=True)
class Option:
    """One choice offered to the user: `key` is stored, `label` is shown, `aliases` also match."""

    key: str
    label: str
    aliases: tuple[str, ...] = ()


_NUMBER_CHOICE = re.compile(r"(?:so\s*)?(\d{1,3})")


def _names(option: Option) -> tuple[str, ...]:
    return (option.label, option.key, *option.aliases)


def _exact(text: str, option: Option) -> bool:
    folded, packed = fold(text), compact(text)
    return any(fold(n) == folded or compact(n) == packed for n in _names(option))


def _prefix(text: str, option: Option) -> bool:
    packed = compact(text)
    return len(packed) >= 3 and any(compact(n).startswith(packed) for n in (option.label, *option.aliases))


def _whole_words(text: str, option: Option) -> bool:
    folded = fold(text)
    if len(folded.replace(" ", "")) < 2:
        return False
    return any(f" {folded} " in f" {fold(n)} " for n in (option.label, *option.aliases))


def _pick(text: str, options: Sequence[Option], test: Callable[[str, Option], bool]) -> Option | None:
    """The one option passing `test`; None if none does; `choice.ambiguous` if several do."""
    found = [o for o in options if test(text, o)]
    if len(found) > 1:
        raise Invalid("choice.ambiguous", matches=[o.label for o in found])
    return found[0] if found else None


def match_option(text: str, options: Sequence[Option], *, fuzzy: bool = True) -> Option:
    """Resolve a typed choice: its number, its label/key/alias, or an unambiguous part of its label.

    Tiers are tried in order (number, exact, label prefix, whole words inside the label) so that
    an exact answer is never reported as ambiguous because it is also a prefix of another label.
    `fuzzy=False` stops after the exact tier, for steps that also take free text.
    """
    number = _NUMBER_CHOICE.fullmatch(fold(text))
    if number and 1 <= int(number.group(1)) <= len(options):
        return options[int(number.group(1)) - 1]
    for test in (_exact, _prefix, _whole_words) if fuzzy else (_exact,):
        found = _pick(text, options, test)
        if found is not None:
            return found
    raise Invalid("choice.unknown")


# --------------------------------------------------------------------------- years

_UNKNOWN = frozenset(
    {"khong ro", "ko ro", "k ro", "kh ro", "khong biet", "ko biet", "k biet", "kb", "chua ro", "khongro"}
)
MIN_BIRTH_YEAR = 1900


def _is_unknown(text: str) -> bool:
    stripped = text.strip()
    return stripped in {"?", "??", "???"} or fold(stripped) in _UNKNOWN


def parse_year(text: str, today: date) -> int | None:
    """A four-digit year of birth, or None when the user says it is unknown.

    Two-digit years are refused: "45" could be 1945 or 2045 and a wrong birth year is worse than
    asking again.
    """
    if _is_unknown(text):
        return None
    m = re.fullmatch(r"(?:nam (?:sinh )?)?(\d{4})", fold(text))
    if not m:
        raise Invalid("year.format")
    year = int(m.group(1))
    if not MIN_BIRTH_YEAR <= year <= today.year:
        raise Invalid("year.range", min=MIN_BIRTH_YEAR, max=today.year)
    return year


# --------------------------------------------------------------------------- dates

MIN_WHEN_YEAR = 1945


@dataclass(frozen=True)
class When:
    """When a deed happened, as precisely as the user knows it.

    `start` is the first day of the period (the Monday for a week, the 1st for a month, 1 January
    for a year); `precision` says how much of it is meaningful.
    """

    start: date
    precision: str  # "day" | "week" | "month" | "year"

    @property
    def end(self) -> date:
        """Last day of the period, for sorting and range queries."""
        if self.precision == "week":
            return self.start + timedelta(days=6)
        if self.precision == "month":
            return self.start.replace(day=calendar.monthrange(self.start.year, self.start.month)[1])
        if self.precision == "year":
            return self.start.replace(month=12, day=31)
        return self.start

    def label(self) -> str:
        """Display form, from the catalogue: "15/10/2026", "tuần từ 09/11/2026", "tháng 10/2026", "năm 2025"."""
        s = self.start
        return t(f"period.{self.precision}", date=f"{s:%d/%m/%Y}", month=s.month, year=s.year)


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _month_start(year: int, month: int) -> date:
    """First day of a month given with possible overflow of `month` (0 is December of year-1)."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    if year < MIN_WHEN_YEAR:
        raise Invalid("when.too_old", min_year=MIN_WHEN_YEAR)
    return date(year, month, 1)


def _year_start(year: int) -> date:
    if year < MIN_WHEN_YEAR:
        raise Invalid("when.too_old", min_year=MIN_WHEN_YEAR)
    return date(year, 1, 1)


def _days_back(today: date, days: int) -> date:
    try:
        return today - timedelta(days=days)
    except OverflowError:
        raise Invalid("when.too_old", min_year=MIN_WHEN_YEAR) from None


def _named(today: date) -> dict[str, When]:
    """Relative expressions, keyed by folded text."""
    last_year = _year_start(today.year - 1)
    return {
        "hom nay": When(today, "day"),
        "hom qua": When(today - timedelta(days=1), "day"),
        "hom kia": When(today - timedelta(days=2), "day"),
        "tuan nay": When(_monday(today), "week"),
        "tuan truoc": When(_monday(today) - timedelta(days=7), "week"),
        "tuan roi": When(_monday(today) - timedelta(days=7), "week"),
        "thang nay": When(_month_start(today.year, today.month), "month"),
        "thang truoc": When(_month_start(today.year, today.month - 1), "month"),
        "thang roi": When(_month_start(today.year, today.month - 1), "month"),
        "nam nay": When(_year_start(today.year), "year"),
        "nam ngoai": When(last_year, "year"),
        "nam truoc": When(last_year, "year"),
        "nam roi": When(last_year, "year"),
    }


_AGO = re.compile(r"(cach day )?(\d{1,4}) (ngay|tuan|thang|nam)( truoc)?")


def _ago(s: str, today: date) -> When | None:
    """ "3 ngày trước", "2 tuần trước", "cách đây 5 tháng", "2 năm trước".

    "trước" or "cách đây" is required: a bare "3 tháng" might mean the month of March.
    """
    m = _AGO.fullmatch(s)
    if not m or not (m.group(1) or m.group(4)):
        return None
    n, unit = int(m.group(2)), m.group(3)
    if unit == "ngay":
        return When(_days_back(today, n), "day")
    if unit == "tuan":
        return When(_monday(_days_back(today, 7 * n)), "week")
    if unit == "thang":
        return When(_month_start(today.year, today.month - n), "month")
    return When(_year_start(today.year - n), "year")


def _day(year: int, month: int, day: int) -> date:
    if year < MIN_WHEN_YEAR:
        raise Invalid("when.too_old", min_year=MIN_WHEN_YEAR)
    try:
        return date(year, month, day)
    except ValueError:
        raise Invalid("when.invalid_date") from None


def _full_year(digits: str) -> int:
    """Two-digit years in a date mean 20yy: a deed is recent, unlike a birth year."""
    return 2000 + int(digits) if len(digits) == 2 else int(digits)


def _recent_day(day: int, month: int, today: date) -> date:
    """A day and month without year: the latest such date not after today."""
    for year in (today.year, today.year - 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate <= today:
            return candidate
    raise Invalid("when.invalid_date")


def _recent_month(month: int, today: date) -> date:
    if not 1 <= month <= 12:
        raise Invalid("when.invalid_date")
    year = today.year if month <= today.month else today.year - 1
    return date(year, month, 1)


def _absolute(s: str, today: date) -> When | None:
    """Numeric and "tháng …/năm …" forms, on folded text (separators are already spaces)."""
    if m := re.fullmatch(r"(?:ngay )?(\d{1,2}) (?:thang )?(\d{1,2}) (?:nam )?(\d{4}|\d{2})", s):
        return When(_day(_full_year(m.group(3)), int(m.group(2)), int(m.group(1))), "day")
    if m := re.fullmatch(r"(\d{4}) (\d{1,2}) (\d{1,2})", s):
        return When(_day(int(m.group(1)), int(m.group(2)), int(m.group(3))), "day")
    if m := re.fullmatch(r"(?:thang )?(\d{1,2}) (?:nam )?(\d{4})", s):
        month = int(m.group(1))
        if not 1 <= month <= 12:
            raise Invalid("when.invalid_date")
        return When(_month_start(int(m.group(2)), month), "month")
    if m := re.fullmatch(r"(?:ngay )?(\d{1,2}) (?:thang )?(\d{1,2})", s):
        return When(_recent_day(int(m.group(1)), int(m.group(2)), today), "day")
    if m := re.fullmatch(r"thang (\d{1,2})", s):
        return When(_recent_month(int(m.group(1)), today), "month")
    if m := re.fullmatch(r"(?:nam )?(\d{4})", s):
        return When(_year_start(int(m.group(1))), "year")
    return None


def parse_when(text: str, today: date) -> When:
    """When a deed happened: an exact date, a month, a year, or a relative phrase.

    Cadres often remember only "tháng trước" or "năm ngoái", so the precision is kept rather than
    inventing a day. Weeks start on Monday. Dates after `today` or before 1945 are refused.
    """
    s = fold(text)
    when = _named(today).get(s)
    if when is None:
        when = _ago(s, today)
    if when is None:
        when = _absolute(s, today)
    if when is None:
        raise Invalid("when.format")
    if when.start > today:
        raise Invalid("when.future")
    if when.start.year < MIN_WHEN_YEAR:
        raise Invalid("when.too_old", min_year=MIN_WHEN_YEAR)
    return when


# --------------------------------------------------------------------------- phones

_PHONE_CHARS = re.compile(r"\(?\+?[\d\s.\-()]+")
_MOBILE_PREFIXES = "35789"


def _national(digits: str) -> str:
    """Digits in national form (leading 0), whether typed with +84, 84, 0084 or 0."""
    if digits.startswith("0084"):
        digits = digits[2:]
    if digits.startswith("84") and len(digits) in (11, 12, 13):
        rest = digits[2:]
        return rest if rest.startswith("0") else "0" + rest
    return digits


def _valid_national(n: str) -> bool:
    mobile = len(n) == 10 and n[0] == "0" and n[1] in _MOBILE_PREFIXES
    landline = len(n) == 11 and n.startswith("02")
    return mobile or landline


def parse_phone(text: str) -> str:
    """A Vietnamese mobile (0[35789]x, 10 digits) or landline (02x, 11 digits) number, as E.164.

    Stored in E.164 so that one person typed two ways ("0912 345 678", "+84912345678") is one
    number.
    """
    stripped = text.strip()
    if not _PHONE_CHARS.fullmatch(stripped):
        raise Invalid("phone.format")
    national = _national(re.sub(r"\D", "", stripped))
    if not _valid_national(national):
        raise Invalid("phone.format")
    return "+84" + national[1:]


def format_phone_local(phone: str) -> str:
    """Display form as Vietnamese write it: "0912 345 678", landline "0243 825 1234".

    Anything that is not a valid Vietnamese number is returned unchanged (display must not fail).
    """
    try:
        n = "0" + parse_phone(phone)[3:]
    except Invalid:
        return phone
    return f"{n[:4]} {n[4:7]} {n[7:]}"  # mobile 4-3-3, landline (area code 02x + 8 digits) 4-3-4


# --------------------------------------------------------------------------- ethnicity


def _ethnicity_index() -> dict[str, str]:
    """Compact form of every official name and alias → official name."""
    index: dict[str, str] = {}
    for group in ETHNIC_GROUPS:
        for spelling in (group.name, *group.aliases):
            index[compact(spelling)] = group.name
    return index


_ETHNICITY = _ethnicity_index()
_ETHNIC_PREFIX = re.compile(r"(?:dan toc|dt|nguoi) ")


def _ethnic_suggestions(key: str) -> list[str]:
    """Up to 3 official names close to what was typed: shared prefix first, then similar spelling."""
    names: list[str] = []
    prefixed = [k for k in _ETHNICITY if key and (k.startswith(key) or key.startswith(k))]
    close = difflib.get_close_matches(key, list(_ETHNICITY), n=6, cutoff=0.6)
    for k in (*sorted(prefixed, key=len), *close):
        if _ETHNICITY[k] not in names:
            names.append(_ETHNICITY[k])
    return names[:3]


def match_ethnicity(text: str) -> str:
    """The official name of the ethnic group typed, by name or alias, ignoring diacritics and case.

    Numbers are refused: with 54 groups a numbered list is not offered, so a number is a mistake.
    """
    folded = _ETHNIC_PREFIX.sub("", fold(text), count=1)
    key = folded.replace(" ", "")
    if key in _ETHNICITY:
        return _ETHNICITY[key]
    raise Invalid("ethnicity.unknown", suggestions=_ethnic_suggestions(key))


# --------------------------------------------------------------------------- free text


def parse_text(text: str, *, min_len: int, max_len: int) -> str:
    """Free text with spacing tidied: runs of spaces become one, line breaks kept (at most one blank line).

    The length is checked after tidying, since that is what is stored and shown.
    """
    lines = [re.sub(r"[^\S\n]+", " ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if len(cleaned) < min_len:
        raise Invalid("text.too_short", min=min_len, length=len(cleaned))
    if len(cleaned) > max_len:
        raise Invalid("text.too_long", max=max_len, length=len(cleaned))
    return cleaned


def parse_name(text: str) -> str:
    """A person's or a group's name: free text with at least two letters (not just emoji, digits or marks),
    since it is printed on certificates and quoted in reminders."""
    name = parse_text(text, min_len=2, max_len=200)
    if sum(character.isalpha() for character in name) < 2:
        raise Invalid("name.letters")
    return name


_SKIP = frozenset({"bo qua", "boqua", "khong co", "ko co", "k co", "khong", "k", "ko", "kh", "skip"})


def is_skip(text: str) -> bool:
    """Whether the user declines an optional question ("bỏ qua", "không", "-", …)."""
    stripped = text.strip()
    return stripped in {"-", "--", "–", "—"} or fold(stripped) in _SKIP


def row_id(text: str) -> int | None:
    """A database id or page number, typed or carried by a button: ASCII digits that fit a 64-bit column.
    Anything else (a forged button's 25 digits, "²") is None, answered as "not found", never an error."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None
