"""Which cases an export covers: a reporting quarter (by the commune's own deadlines), a calendar year, or
a range of days; and which statuses. Typed forms: "", "quý này", "quý 3", "quý 3/2026", "năm", "năm 2025",
"01/10/2026-20/12/2026"; a status word may follow ("tất cả", "đã duyệt", "khen thưởng")."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from common.messages import t
from common.text import fold
from scheduler.calendar import Due, period_of, quarter_label
from storage.models import CaseStatus

DEFAULT_STATUSES = (CaseStatus.APPROVED.value, CaseStatus.COMMENDED.value)
ALL_STATUSES = tuple(s.value for s in CaseStatus if s != CaseStatus.WITHDRAWN)
STATUS_WORDS = {
    "tat ca": ALL_STATUSES, "all": ALL_STATUSES,
    "da duyet": (CaseStatus.APPROVED.value,), "duyet": (CaseStatus.APPROVED.value,),
    "khen thuong": (CaseStatus.COMMENDED.value,), "da khen thuong": (CaseStatus.COMMENDED.value,),
    "cho duyet": (CaseStatus.SUBMITTED.value, CaseStatus.RESUBMITTED.value),
}
_QUARTER = re.compile(r"^(?:quy|q)\s*([1-4])(?:\s+(\d{4}))?$")
_YEAR = re.compile(r"^(?:nam|ca nam)(?:\s+(\d{4}))?$")
_RANGE = re.compile(r"^(\d{1,2}) (\d{1,2}) (\d{4}) (\d{1,2}) (\d{1,2}) (\d{4})$")

DuesFor = Callable[[Sequence[int]], Sequence[Due]]  # a commune's deadlines in these years


class BadPeriod(ValueError):
    """`code` names the catalogue text: export.bad_period, export.future."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Period:
    start: datetime  # cases submitted after this…
    end: datetime  # …and up to this (a deadline is the last instant that counts)
    label: str
    key: str  # short and button-safe: "q2026-4", "y2026", "r20261001-20261220"


@dataclass(frozen=True)
class Selection:
    period: Period
    statuses: tuple[str, ...]


def split_statuses(words: str) -> tuple[str, tuple[str, ...]]:
    """(the period's words, the statuses a trailing status word asks for, or the default)."""
    for phrase, statuses in sorted(STATUS_WORDS.items(), key=lambda item: -len(item[0])):
        if words == phrase or words.endswith(" " + phrase):
            return words[: len(words) - len(phrase)].strip(), statuses
    return words, DEFAULT_STATUSES


def parse_selection(text: str, now: datetime, dues_for: DuesFor) -> Selection:
    words, statuses = split_statuses(fold(text))
    return Selection(parse_period(words, now, dues_for), statuses)


def parse_period(words: str, now: datetime, dues_for: DuesFor) -> Period:
    """A period from folded words; raises BadPeriod for what it cannot read or what has not begun."""
    if words in ("", "quy nay", "ky nay", "quy"):
        period = current_quarter(now, dues_for)
    elif match := _QUARTER.match(words):
        period = quarter(int(match.group(2) or now.year), int(match.group(1)), dues_for)
    elif match := _YEAR.match(words):
        period = year(int(match.group(1) or now.year), now.tzinfo)
    elif match := _RANGE.match(words):
        period = day_range(*(int(g) for g in match.groups()), zone=now.tzinfo)
    else:
        raise BadPeriod("export.bad_period")
    if period.start >= now:
        raise BadPeriod("export.future")
    return period


def from_key(key: str, now: datetime, dues_for: DuesFor) -> Period:
    """The period a button's key names (see Period.key)."""
    if match := re.fullmatch(r"q(\d{4})-([1-4])", key):
        return quarter(int(match.group(1)), int(match.group(2)), dues_for)
    if match := re.fullmatch(r"y(\d{4})", key):
        return year(int(match.group(1)), now.tzinfo)
    if match := re.fullmatch(r"r(\d{4})(\d\d)(\d\d)-(\d{4})(\d\d)(\d\d)", key):
        y1, m1, d1, y2, m2, d2 = (int(g) for g in match.groups())
        return day_range(d1, m1, y1, d2, m2, y2, zone=now.tzinfo)
    raise BadPeriod("export.bad_period")


def current_quarter(now: datetime, dues_for: DuesFor) -> Period:
    found = period_of(now, dues_for([now.year - 1, now.year, now.year + 1]))
    if found is None:
        raise BadPeriod("export.bad_period")
    start, due = found
    return Period(start, due.due_at, quarter_label(due.quarter, due.due_at.year), due.key)


def quarter(year_: int, number: int, dues_for: DuesFor) -> Period:
    quarterly = [d for d in dues_for([year_ - 1, year_]) if d.quarterly]
    for previous, due in zip(quarterly, quarterly[1:], strict=False):
        if due.key == f"q{year_}-{number}":
            return Period(previous.due_at, due.due_at, quarter_label(number, year_), due.key)
    raise BadPeriod("export.bad_period")


def year(number: int, zone: tzinfo | None) -> Period:
    start = datetime.combine(date(number, 1, 1), time(), zone) - timedelta(microseconds=1)
    end = datetime.combine(date(number + 1, 1, 1), time(), zone) - timedelta(microseconds=1)
    return Period(start, end, t("stats.year", year=number), f"y{number}")


def day_range(d1: int, m1: int, y1: int, d2: int, m2: int, y2: int, *, zone: tzinfo | None) -> Period:
    try:
        first, last = date(y1, m1, d1), date(y2, m2, d2)
    except ValueError as exc:
        raise BadPeriod("export.bad_period") from exc
    if last < first:
        raise BadPeriod("export.bad_period")
    start = datetime.combine(first, time(), zone) - timedelta(microseconds=1)
    end = datetime.combine(last + timedelta(days=1), time(), zone) - timedelta(microseconds=1)
    return Period(start, end, t("export.period.range", first=f"{first:%d/%m/%Y}", last=f"{last:%d/%m/%Y}"),
                  f"r{first:%Y%m%d}-{last:%Y%m%d}")
