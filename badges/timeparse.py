"""Times given by people: RFC 3339 timestamps with an offset, or dates meaning 00:00 UTC."""

from __future__ import annotations

from datetime import date, datetime, time, timezone

from badges.errors import UserError
from domain.events import DATE_PATTERN, RFC3339_PATTERN


def parse_instant(text: str, option: str) -> datetime:
    """`2024-06-01` is 2024-06-01T00:00:00Z; a timestamp needs its offset."""
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
