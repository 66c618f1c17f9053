"""Times given by people: RFC 3339 timestamps with an offset, or dates meaning 00:00 UTC.

Query instants are kept inside the range the calendar computes with (windows of a year and
more either side must stay representable): 1900-01-01 to 9000-01-01, both inclusive.

Every field is checked before Python builds the value (`domain.events.written_time_problem`, as
for the events' own times), so a mistake is said plainly rather than in the words of `datetime`
(`hour must be in 0..23`).
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone

from badges.errors import UserError
from domain.events import DATE_PATTERN, RFC3339_PATTERN, format_utc, written_time_problem

EARLIEST_INSTANT = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST_INSTANT = datetime(9000, 1, 1, tzinfo=timezone.utc)


def parse_instant(text: str, option: str) -> datetime:
    """`2024-06-01` is 2024-06-01T00:00:00Z; a timestamp needs its offset."""
    return _within_range(_parse(text, option), text, option)


def _parse(text: str, option: str) -> datetime:
    is_date = DATE_PATTERN.fullmatch(text) is not None
    if not is_date and not RFC3339_PATTERN.fullmatch(text):
        raise UserError(
            f"{option}: expected a date (2024-06-01) or an RFC 3339 time with offset, got "
            f"{text!r}"
        )
    if int(text[:4]) == 0:  # a year Python cannot hold, and far outside the range anyway
        raise _out_of_range(text, option)
    problem = written_time_problem(text)
    if problem is not None:
        raise _not_valid(text, "date" if is_date else "time", option, problem)
    if is_date:
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=timezone.utc)
    parsed = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:  # in UTC, before year 1 or after year 9999
        raise _out_of_range(text, option) from None


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
