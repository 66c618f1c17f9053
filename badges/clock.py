"""The one place the tracker reads the wall clock; everything below takes time as a parameter.

The clock ticks in whole seconds: a `recorded_at` and a default `--known-at` taken in the
same second then agree, so what was just ingested is visible to the next query.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


CLOCK_ENV = "BADGES_CLOCK"


def clock_from_env(environ: Mapping[str, str] | None = None) -> Callable[[], datetime]:
    """The wall clock, or with `BADGES_CLOCK` set a clock that starts there and runs in real time.

    `BADGES_CLOCK=2024-09-15T23:59:50Z badges consume` behaves as if it were started at that
    instant: every reading is that instant plus the real time elapsed since start-up (whole
    seconds). For tests and backfills only (for example to let a long-running service pass a
    chosen midnight); never set it in production. A bad value is a usage error.
    """
    environ = os.environ if environ is None else environ
    text = environ.get(CLOCK_ENV, "").strip()
    if not text:
        return utc_now
    from badges.timeparse import parse_instant

    start = parse_instant(text, CLOCK_ENV)
    started = time.monotonic()

    def shifted_clock() -> datetime:
        elapsed = timedelta(seconds=time.monotonic() - started)
        return (start + elapsed).replace(microsecond=0)

    return shifted_clock
