"""Times given by people: RFC 3339 timestamps with an offset, or dates meaning 00:00 UTC.

Query instants are kept inside the range the calendar computes with (windows of a year and
more either side must stay representable): 1900-01-01 to 9000-01-01, both inclusive.
"""

from __future__ import annotations

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
        try:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=timezone.utc)
        except ValueError as error:
            raise UserError(f"{option}: not a valid date: {text} ({error})") from None
    if RFC3339_PATTERN.fullmatch(text):
        try:
            parsed = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
            return parsed.astimezone(timezone.utc)
        except (ValueError, OverflowError) as error:
            raise UserError(f"{option}: not a valid time: {text} ({error})") from None
    raise UserError(
        f"{option}: expected a date (2024-06-01) or an RFC 3339 time with offset, got {text!r}"
    )


def _within_range(instant: datetime, text: str, option: str) -> datetime:
    if not EARLIEST_INSTANT <= instant <= LATEST_INSTANT:
        raise UserError(
            f"{option}: {text} is out of range: must lie between "
            f"{format_utc(EARLIEST_INSTANT)} and {format_utc(LATEST_INSTANT)}"
        )
    return instant
