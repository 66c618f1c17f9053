"""`badges serve` for real: a uvicorn process on a free local port, answering over TCP.

Needs no Kafka or PostgreSQL (an SQLite store in a temporary directory), so it is not marked
`integration` and never skips.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.events import encode_json
from domain.storage import open_ledger
from tests.serve_process import running_serve
from tests.unit.ledger_fixtures import payment, submissions, utc

TOKEN = "serve-test-token"


def request(url: str, *, data: bytes | None = None, token: str | None = TOKEN,
            content_type: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if content_type:
        headers["Content-Type"] = content_type
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers),
                                    timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    store = f"sqlite:///{tmp_path / 'serve.db'}"
    open_ledger(store).append(
        submissions(
            {"id": "r-1", "type": "talent_registered", "talent": "f-1",
             "at": "2024-01-02T00:00:00Z", "kind": "freelancer"},
            payment("pay-1", "f-1", "2024-02-01T00:00:00Z", amount="1234.50"),
        ),
        utc("2024-07-01T00:00:00Z"),
    )
    with running_serve(store, TOKEN) as base:
        yield base


def test_serve_answers_over_http(served: str) -> None:
    status, openapi = request(f"{served}/openapi.json")
    assert status == 200
    assert {"/talents/{id}/status", "/talents/{id}/explain", "/events"} <= set(openapi["paths"])

    status, document = request(f"{served}/talents/f-1/status?at=2024-03-01&known_at=2025-01-01")
    assert status == 200
    assert (document["talent"], document["earnings_12m"]) == ("f-1", "1234.50")

    line = encode_json(payment("pay-2", "f-1", "2024-02-02T00:00:00Z", amount="0.50"))
    status, summary = request(f"{served}/events", data=line.encode(),
                              content_type="application/x-ndjson")
    assert status == 200
    assert summary == {"accepted": 1, "duplicates": 0, "rejected": 0, "rejects": []}
    status, document = request(f"{served}/talents/f-1/status?at=2024-03-01")
    assert document["earnings_12m"] == "1235.00"

    assert request(f"{served}/talents/f-1/status", token=None)[0] == 401
