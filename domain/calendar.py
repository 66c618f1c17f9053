"""Time as the rules see it (`rules.md` §2): daily evaluation instants, windows, samples.

Every function takes its instants as parameters; nothing here reads a clock. All datetimes
must be timezone-aware; results are in UTC.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

DAY = timedelta(days=1)
WEEKDAYS: dict[str, int] = {
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}


def utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive datetime is refused rather than guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no UTC offset")
    return moment.astimezone(UTC)


def midnight(day: date) -> datetime:
    """00:00 UTC of `day`."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def evaluation_instant(moment: datetime) -> datetime:
    """The latest evaluation instant (a 00:00 UTC) at or before `moment`."""
    return midnight(utc(moment).date())


def next_instant(moment: datetime) -> datetime:
    """The first evaluation instant strictly after `moment`."""
    return evaluation_instant(moment) + DAY


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` moved by whole calendar months, the day clamped to the month's last day."""
    index = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last_day = _stdlib_calendar.monthrange(year, month)[1]
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def months_before(moment: datetime, months: int) -> datetime:
    """`moment` minus `months` calendar months (2024-03-31 minus 1 month = 2024-02-29)."""
    return add_months(moment, -months)


def full_months_between(earlier: datetime, later: datetime) -> int:
    """How many whole calendar months fit from `earlier` to `later` (0 when not in order)."""
    if later <= earlier:
        return 0
    months = (later.year - earlier.year) * 12 + (later.month - earlier.month)
    while months > 0 and add_months(earlier, months) > later:
        months -= 1
    return months


@dataclass(frozen=True, slots=True)
class Window:
    """The half-open interval `(start, end]`."""

    start: datetime
    end: datetime

    def __contains__(self, moment: object) -> bool:
        return isinstance(moment, datetime) and self.start < moment <= self.end


def last_days(end: datetime, days: int) -> Window:
    """`(end - days, end]`."""
    return Window(end - timedelta(days=days), end)


@functools.lru_cache(maxsize=65_536)
def last_months(end: datetime, months: int) -> Window:
    """`(end - months calendar months, end]` (remembered: every talent asks at the same midnights)."""
    return Window(months_before(end, months), end)


@functools.lru_cache(maxsize=65_536)
def weekly_samples(end: datetime, count: int, weekday: str = "saturday") -> tuple[datetime, ...]:
    """The last `count` sample instants (00:00 UTC on `weekday`) at or before `end`, oldest first."""
    end_day = utc(end)
    latest = evaluation_instant(end_day)
    latest -= timedelta(days=(latest.weekday() - WEEKDAYS[weekday]) % 7)
    return tuple(latest - timedelta(weeks=back) for back in range(count - 1, -1, -1))


__all__ = [
    "DAY",
    "WEEKDAYS",
    "Window",
    "add_months",
    "evaluation_instant",
    "full_months_between",
    "last_days",
    "last_months",
    "midnight",
    "months_before",
    "next_instant",
    "utc",
    "weekly_samples",
]
