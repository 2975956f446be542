"""The deadline calendar and the reporting-period rule, at the boundaries and in the right zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

from scheduler.calendar import Calendar, period_of
from storage.models import Deadline
from tests.conftest import ZONE

CAL = Calendar(ZONE)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZONE)


def dues(rows=(), commune="00070", province="01"):
    return CAL.for_commune(commune, province, [2025, 2026, 2027], list(rows))


def test_default_deadlines_are_the_20th_of_each_quarters_last_month_at_2359_local():
    q = [d for d in dues() if d.key.startswith("q2026")]
    assert [(d.due_at.day, d.due_at.month, d.due_at.hour, d.due_at.minute) for d in q] == [
        (20, 3, 23, 59), (20, 6, 23, 59), (20, 9, 23, 59), (20, 12, 23, 59)]
    assert q[3].due_at.astimezone(UTC) == datetime(2026, 12, 20, 16, 59, 59, 999999, tzinfo=UTC)  # UTC+7
    assert q[3].title == "Hạn gửi danh sách quý IV/2026"


def test_a_case_belongs_to_the_first_deadline_at_or_after_it():
    all_dues = dues()
    assert period_of(local(2026, 12, 20, 23, 59), all_dues)[1].key == "q2026-4"
    assert period_of(local(2026, 12, 20, 23, 59, 59), all_dues)[1].key == "q2026-4"
    assert period_of(local(2026, 12, 21, 0, 0), all_dues)[1].key == "q2027-1"
    assert period_of(local(2026, 12, 31, 23, 59), all_dues)[1].key == "q2027-1"
    assert period_of(local(2027, 1, 1, 0, 0), all_dues)[1].key == "q2027-1"
    start, due = period_of(local(2026, 10, 1), all_dues)
    assert start == local(2026, 9, 20, 23, 59, 59, 999999) and due.key == "q2026-4"
    # 17:00 UTC on the 20th is already 00:00 on the 21st in Vietnam: the next period.
    assert period_of(datetime(2026, 12, 20, 17, 0, tzinfo=UTC), all_dues)[1].key == "q2027-1"
    assert period_of(datetime(2026, 12, 20, 16, 59, tzinfo=UTC), all_dues)[1].key == "q2026-4"


def test_a_commune_move_beats_its_provinces_and_one_offs_have_titles():
    now = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [
        Deadline(id=1, province_code="01", year=2026, quarter=4, due_at=local(2026, 12, 15, 23, 59), created_at=now),
        Deadline(id=2, commune_code="00070", year=2026, quarter=4, due_at=local(2026, 12, 10, 23, 59),
                 created_at=now),
        Deadline(id=3, commune_code="00070", year=2027, quarter=0, title="Kế hoạch thi đua năm",
                 due_at=local(2027, 4, 15, 23, 59), created_at=now),
        Deadline(id=4, commune_code="26743", year=2026, quarter=4, due_at=local(2026, 12, 1, 23, 59),
                 created_at=now),
    ]
    mine = {d.key: d for d in dues(rows)}
    assert mine["q2026-4"].due_at.date() == date(2026, 12, 10)
    assert mine["d3"].title == "Kế hoạch thi đua năm" and not mine["d3"].quarterly
    neighbour = {d.key: d for d in dues(rows, commune="00073")}  # same province, no move of its own
    assert neighbour["q2026-4"].due_at.date() == date(2026, 12, 15) and "d3" not in neighbour
    other_province = {d.key: d for d in dues(rows, commune="26740", province="79")}
    assert other_province["q2026-4"].due_at.date() == date(2026, 12, 20)
    assert period_of(local(2026, 12, 12), dues(rows))[1].key == "q2027-1"  # after the moved deadline


def test_configured_dates():
    calendar = Calendar(ZONE, "15/03,15/06,15/09,15/12", "17:00")
    due = calendar.quarterly(2026, 2)
    assert (due.due_at.day, due.due_at.month, due.due_at.hour) == (15, 6, 17)
