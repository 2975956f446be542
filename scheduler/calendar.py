"""The deadline calendar: quarterly deadlines (default the 20th of March, June, September and
December at 23:59 local, moved by a province or a commune) and one-off deadlines with a title.

The reporting period rule: a case belongs to the period of the first quarterly deadline at or after
its submission. A deadline is the whole minute it names: submitted at 23:59:30 on the 20th counts
for that quarter, at 00:00 on the 21st for the next; a case of 31/12 counts for next March.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo

from common.messages import t
from storage.models import Deadline

ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}


def quarter_label(quarter: int, year: int) -> str:
    return t("deadline.quarter", quarter=ROMAN[quarter], year=year)


@dataclass(frozen=True)
class Due:
    key: str  # stable: "q2026-4" for a quarter, "d17" for a one-off
    due_at: datetime  # aware, the last instant that still counts
    title: str
    quarter: int  # 1–4, or 0 for a one-off

    @property
    def quarterly(self) -> bool:
        return self.quarter > 0


class Calendar:
    def __init__(self, zone: tzinfo, dates: str = "20/03,20/06,20/09,20/12", at: str = "23:59") -> None:
        self.zone = zone
        self.days = [tuple(int(x) for x in part.strip().split("/")) for part in dates.split(",")]
        if len(self.days) != 4:
            raise ValueError("DEADLINE_DATES needs four day/month pairs, one per quarter")
        hour, minute = (int(x) for x in at.split(":"))
        self.time = time(hour, minute, 59, 999999)  # the whole named minute counts
        self._quarters: dict[tuple[int, int], Due] = {}
        self._plain: dict[tuple[int, ...], list[Due]] = {}  # by years: the quarters of a commune nothing moved

    def end_of(self, day: date) -> datetime:
        return datetime.combine(day, self.time, self.zone)

    def quarterly(self, year: int, quarter: int) -> Due:
        known = self._quarters.get((year, quarter))
        if known is None:  # the same for every commune: made once (planning asks for it 40,000 times a pass)
            day, month = self.days[quarter - 1]
            known = self._quarters[year, quarter] = Due(
                f"q{year}-{quarter}", self.end_of(date(year, month, day)),
                t("deadline.quarterly", period=quarter_label(quarter, year)), quarter)
        return known

    def for_commune(self, commune_code: str, province_code: str, years: Iterable[int],
                    rows: Sequence[Deadline]) -> list[Due]:
        """Every deadline of a commune in these years, sorted: a commune's move beats its province's."""
        years = tuple(years)
        mine = [r for r in rows if r.commune_code == commune_code
                or (r.commune_code is None and r.province_code == province_code)]
        if not mine:  # most communes keep the plain quarters: the same list for all (planning asks 3,000 times)
            plain = self._plain.get(years)
            if plain is None:
                plain = self._plain[years] = sorted((self.quarterly(year, quarter) for year in years
                                                     for quarter in range(1, 5)), key=lambda d: d.due_at)
            return list(plain)
        moved: dict[tuple[int, int], Deadline] = {}
        for r in sorted(mine, key=lambda r: (r.commune_code is None, -r.id)):  # the first one wins
            if r.quarter:
                moved.setdefault((r.year, r.quarter), r)
        dues = []
        for year in years:
            for quarter in range(1, 5):
                due = self.quarterly(year, quarter)
                if (year, quarter) in moved:
                    due = Due(due.key, moved[year, quarter].due_at.astimezone(self.zone), due.title, quarter)
                dues.append(due)
        dues += [Due(f"d{r.id}", r.due_at.astimezone(self.zone), r.title, 0)
                 for r in mine if r.quarter == 0 and r.year in years]
        return sorted(dues, key=lambda d: d.due_at)


def period_of(when: datetime, dues: Sequence[Due]) -> tuple[datetime, Due] | None:
    """(start, deadline) of the reporting period `when` falls in: after the previous quarterly deadline,
    up to and including this one. None if `dues` do not reach far enough."""
    quarterly = [d for d in dues if d.quarterly]
    for previous, due in zip([None, *quarterly], quarterly, strict=False):
        if when <= due.due_at:
            if previous is None:
                return None
            return previous.due_at, due
    return None


def years_around(day: date) -> list[int]:
    return [day.year - 1, day.year, day.year + 1]
