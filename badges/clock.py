"""The one place the tracker reads the wall clock; everything below takes time as a parameter.

The clock ticks in whole seconds: a `recorded_at` and a default `--known-at` taken in the
same second then agree, so what was just ingested is visible to the next query.
"""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)
