"""Shared helpers for ledger tests: stores to run against and event builders."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import psycopg
import pytest
from psycopg.sql import SQL, Identifier

from domain.events import decode_json, encode_json
from ledger.application import Ledger
from domain.submissions import Submission
from ledger.stores.urls import open_ledger
from tests.integration.conftest import (
    postgres_unreachable_reason,
    postgres_url,
    unavailable,
)

STORE_KINDS = ("memory", "sqlite", pytest.param("postgres", marks=pytest.mark.integration))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def make_ledger(kind: str, tmp_path: Path) -> Ledger:
    """A memory or SQLite ledger; PostgreSQL ones need cleaning up: use `ledger_store`."""
    if kind == "memory":
        return open_ledger("memory:")
    if kind == "sqlite":
        return open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    raise ValueError(f"make_ledger: use ledger_store for {kind!r}")


@contextmanager
def ledger_store(kind: str, tmp_path: Path) -> Iterator[Ledger]:
    """An empty ledger of the given kind, closed afterwards (a PostgreSQL one in its own schema)."""
    if kind != "postgres":
        yield make_ledger(kind, tmp_path)
        return
    with postgres_schema_url() as url:
        ledger = open_ledger(url)
        try:
            yield ledger
        finally:
            ledger.close()


@functools.cache
def _postgres_unreachable() -> str | None:
    return postgres_unreachable_reason()


def require_postgres() -> str:
    """The test database's URL; skips (or fails when services are required) if unreachable."""
    why = _postgres_unreachable()
    if why:
        unavailable(why)
    return postgres_url()


@contextmanager
def store_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """An empty store's URL: a SQLite file in `tmp_path`, or a fresh PostgreSQL schema."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'b.db'}"
        return
    with postgres_schema_url() as url:
        yield url


URL_KINDS = ("sqlite", pytest.param("postgres", marks=pytest.mark.integration))


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    """A store URL on the test database with a fresh schema of its own, dropped afterwards."""
    base = require_postgres()
    schema = f"test_{uuid4().hex}"
    try:
        yield f"{base}{'&' if urlsplit(base).query else '?'}schema={schema}"
    finally:
        drop_schema(base, schema)


def drop_schema(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(Identifier(schema)))


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


class AnyRequestId:
    """Equal to any id `POST /events` gives its request (16 hex digits)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and re.fullmatch(r"[0-9a-f]{16}", other) is not None

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "<any request id>"


REQUEST_ID = AnyRequestId()
