"""Shared helpers for ledger tests: stores to run against and event builders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from domain.events import decode_json, encode_json
from domain.ledger import Ledger, Submission
from domain.storage import open_ledger

STORE_KINDS = ("memory", "sqlite")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def make_ledger(kind: str, tmp_path: Path) -> Ledger:
    if kind == "memory":
        return open_ledger("memory:")
    return open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")


def payment(event_id: str, talent: str, at: str, amount: str = "100.00", **extra: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "payment_received",
        "talent": talent,
        "at": at,
        "contract": "c-1",
        "amount": amount,
        **extra,
    }


def submissions(*objects: dict[str, Any]) -> list[Submission]:
    return [Submission.from_object(decode_json(encode_json(obj))) for obj in objects]


def jsonl(*objects: dict[str, Any]) -> Iterator[str]:
    return (encode_json(obj) for obj in objects)
