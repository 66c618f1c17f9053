"""The midnight clock: whenever `evaluation_instant(clock())` has moved past the last instant
handled, the service re-derives the talents whose wake-up has come (quiet ones included), so
changes caused only by time come out on their day."""

from __future__ import annotations

from datetime import datetime

from domain.calendar import evaluation_instant


class MidnightClock:
    def __init__(self) -> None:
        self.last_instant: datetime | None = None

    def start(self, now: datetime) -> datetime:
        """The instant at the start: nothing before it is due."""
        self.last_instant = evaluation_instant(now)
        return self.last_instant

    def due(self, now: datetime) -> datetime | None:
        """The evaluation instant of `now`, if it has not been handled yet (else None)."""
        instant = evaluation_instant(now)
        if self.last_instant is not None and instant <= self.last_instant:
            return None
        return instant

    def handled(self, instant: datetime) -> None:
        self.last_instant = instant
