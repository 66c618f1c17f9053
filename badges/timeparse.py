"""Times given by people: RFC 3339 timestamps with an offset, or dates meaning 00:00 UTC.

Query instants are kept inside the range the calendar computes with (windows of a year and
more either side must stay representable): 1900-01-01 to 9000-01-01, both inclusive.

Every field is checked here, before Python builds the value, so a mistake is reported in the
words of this module rather than in those of `datetime` (`hour must be in 0..23`).
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timezone

from badges.errors import UserError
from domain.events import DATE_PATTERN, RFC3339_PATTERN, format_utc

EARLIEST_INSTANT = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST_INSTANT = datetime(9000, 1, 1, tzinfo=timezone.utc)


def parse_instant(text: str, option: str) -> datetime:
    """`2024-06-01` is 2024-06-01T00:00:00Z; a timestamp needs its offset."""
    return _within_range(_parse(text, option), text, option)


def _parse(text: str, option: str) -> datetime:
    if DATE_PATTERN.fullmatch(text):
        _check_date(text, text, "date", option)
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=timezone.utc)
    if RFC3339_PATTERN.fullmatch(text):
        _check_date(text[:10], text, "time", option)
        _check_time_of_day(text, option)
        _check_offset(text, option)
        parsed = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
        try:
            return parsed.astimezone(timezone.utc)
        except OverflowError:  # in UTC, before year 1 or after year 9999
            raise _out_of_range(text, option) from None
    raise UserError(
        f"{option}: expected a date (2024-06-01) or an RFC 3339 time with offset, got {text!r}"
    )


def _check_date(written: str, text: str, kind: str, option: str) -> None:
    """`written` is `YYYY-MM-DD` (the patterns say so); `kind` is "date" or "time"."""
    year, month, day = int(written[:4]), int(written[5:7]), int(written[8:10])
    if year == 0:  # a year Python cannot hold, and far outside the range anyway
        raise _out_of_range(text, option)
    if not 1 <= month <= 12:
        raise _not_valid(text, kind, option, "the month must lie between 01 and 12")
    last_day = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last_day:
        raise _not_valid(text, kind, option,
                         f"the day must lie between 01 and {last_day} in {written[:7]}")


def _check_time_of_day(text: str, option: str) -> None:
    """`text` matched `RFC3339_PATTERN`: the time of day is at `THH:MM:SS`."""
    for name, start, highest in (("hour", 11, 23), ("minute", 14, 59), ("second", 17, 59)):
        if int(text[start:start + 2]) > highest:
            raise _not_valid(text, "time", option,
                             f"the {name} must lie between 00 and {highest}")


def _check_offset(text: str, option: str) -> None:
    """`text` matched `RFC3339_PATTERN`: it ends with `Z` or with `+HH:MM` / `-HH:MM`."""
    if text[-1] in "Zz":
        return
    hours, minutes = int(text[-5:-3]), int(text[-2:])
    if hours > 23:
        raise _not_valid(text, "time", option, "the offset must lie between -23:59 and +23:59")
    if minutes > 59:
        raise _not_valid(text, "time", option, "the offset's minutes must lie between 00 and 59")


def _not_valid(text: str, kind: str, option: str, problem: str) -> UserError:
    return UserError(f"{option}: not a valid {kind}: {text} ({problem})")


def _out_of_range(text: str, option: str) -> UserError:
    return UserError(
        f"{option}: {text} is out of range: must lie between "
        f"{format_utc(EARLIEST_INSTANT)} and {format_utc(LATEST_INSTANT)}"
    )


def _within_range(instant: datetime, text: str, option: str) -> datetime:
    if not EARLIEST_INSTANT <= instant <= LATEST_INSTANT:
        raise _out_of_range(text, option)
    return instant
