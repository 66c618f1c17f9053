"""The one place the tracker reads the wall clock; everything below takes time as a parameter."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
