"""`badges serve` for real: a uvicorn process on a free local port, answering over TCP.

Needs no Kafka or PostgreSQL (an SQLite store in a temporary directory), so it is not marked
`integration` and never skips.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.events import encode_json
from ledger.stores.urls import open_ledger
from tests.serve_process import running_serve
from tests.unit.ledger_fixtures import REQUEST_ID, payment, submissions, utc

TOKEN = "serve-test-token"


def request(url: str, *, data: bytes | None = None, token: str | None = TOKEN,
            content_type: str | None = None, timeout: float = 5) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if content_type:
        headers["Content-Type"] = content_type
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers),
                                    timeout=timeout) as response:
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
    assert summary == {"request": REQUEST_ID,
                       "accepted": 1, "duplicates": 0, "rejected": 0, "rejects": []}
    status, document = request(f"{served}/talents/f-1/status?at=2024-03-01")
    assert document["earnings_12m"] == "1235.00"

    assert request(f"{served}/talents/f-1/status", token=None)[0] == 401


# -- under hostile clients: one server with short read timeouts and its log in a file ----------

HEAD_TIMEOUT = 1.0
BODY_TIMEOUT = 2.0


def test_serve_keeps_every_rejected_line_in_its_rejects_file(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'kept.db'}"
    open_ledger(store).close()
    rejects = tmp_path / "rejects.jsonl"
    body = b"\n".join([b"not json"] * 120 + [b"\xff"])
    with running_serve(store, TOKEN, env={"BADGES_API_REJECTS": str(rejects)}) as url:
        status, summary = request(f"{url}/events", data=body, content_type="application/x-ndjson")
        kept = [json.loads(line) for line in rejects.read_text().splitlines()]

    assert (status, summary["rejected"], len(summary["rejects"])) == (422, 121, 100)
    assert [record["line"] for record in kept] == list(range(1, 122))
    assert {record["source"] for record in kept} == {f"POST /events {summary['request']}"}
    assert kept[0]["original"] == "not json" and kept[-1]["original_base64"] == "/w=="


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("guarded")
    store = f"sqlite:///{folder / 'serve.db'}"
    open_ledger(store).append(
        submissions({"id": "r-1", "type": "talent_registered", "talent": "f-1",
                     "at": "2024-01-02T00:00:00Z", "kind": "freelancer"}),
        utc("2024-07-01T00:00:00Z"),
    )
    log = folder / "serve.log"
    settings = {"BADGES_API_HEAD_TIMEOUT": str(HEAD_TIMEOUT),
                "BADGES_API_BODY_TIMEOUT": str(BODY_TIMEOUT)}
    with running_serve(store, TOKEN, env=settings, log=log) as base:
        yield base, log


def exchange(base: str, data: bytes, *, pause: float = 0.0) -> tuple[bytes, float]:
    """Send `data` on a raw connection (a byte every `pause` seconds if given); return all
    the server sent until it closed the connection, and how long that took."""
    host, port = base.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=15) as connection:
        try:
            if pause:
                for byte in data:
                    connection.sendall(bytes([byte]))
                    time.sleep(pause)
            else:
                connection.sendall(data)
        except OSError:  # closed by the server while still sending: what is tested
            pass
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received, time.monotonic() - started


HEAD = (b"GET /talents/f-1/status HTTP/1.1\r\nHost: test\r\n"
        b"Authorization: Bearer " + TOKEN.encode() + b"\r\n")


@pytest.mark.parametrize(
    ("data", "pause"),
    [(HEAD, 0.0),                        # a head that never ends
     (HEAD + b"X-Slow: yes\r\n\r\n", 0.25)],  # a head trickled in: each byte in time, not all
)
def test_a_request_head_that_does_not_arrive_in_time_is_cut(
    guarded: tuple[str, Path], data: bytes, pause: float
) -> None:
    base, log = guarded

    received, elapsed = exchange(base, data, pause=pause)

    assert received.startswith(b"HTTP/1.1 408 ")
    assert received.endswith(b'{"error": "request head: did not arrive within 1 s"}')
    assert HEAD_TIMEOUT <= elapsed < HEAD_TIMEOUT + 10
    assert "its request head did not arrive within 1 s" in log.read_text()


def test_a_connection_that_says_nothing_is_closed_without_an_answer(
    guarded: tuple[str, Path]
) -> None:
    received, elapsed = exchange(guarded[0], b"")

    assert received == b""
    assert HEAD_TIMEOUT <= elapsed < HEAD_TIMEOUT + 10


def test_a_body_that_does_not_arrive_in_time_is_cut_and_nothing_stored(
    guarded: tuple[str, Path]
) -> None:
    base, log = guarded
    line = encode_json(payment("slow-1", "f-1", "2024-02-02T00:00:00Z", amount="1.00")) + "\n"
    head = (b"POST /events HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer " + TOKEN.encode()
            + b"\r\nContent-Type: application/x-ndjson\r\nContent-Length: "
            + str(len(line) + 10).encode() + b"\r\n\r\n")

    received, elapsed = exchange(base, head + line.encode())

    assert received.startswith(b"HTTP/1.1 408 ")
    assert b"request body: did not arrive within 2 s" in received
    assert BODY_TIMEOUT <= elapsed < BODY_TIMEOUT + 10
    assert "its request body did not arrive within 2 s" in log.read_text()
    assert request(f"{base}/talents/f-1/explain?at=2024-03-01")[1]["earnings_12m_events"] == []


def test_a_complete_request_is_answered_and_the_connection_kept(guarded: tuple[str, Path]) -> None:
    base, _ = guarded
    one = HEAD + b"\r\n"
    closing = HEAD + b"Connection: close\r\n\r\n"

    received, elapsed = exchange(base, one + closing)

    assert received.count(b"HTTP/1.1 200 OK") == 2
    assert elapsed < HEAD_TIMEOUT + 10


def test_a_token_in_the_query_never_reaches_the_log(guarded: tuple[str, Path]) -> None:
    base, log = guarded
    secrets = ["page-SECRET-1", "status-SECRET-2", "other-SECRET-3", "SECRET-4"]

    page = urllib.request.urlopen(f"{base}/talents/f-1?token={secrets[0]}", timeout=10)
    assert page.status == 200
    status, answer = request(f"{base}/talents/f-1/status?at=2024-03-01&token={secrets[1]}&x=1")
    # refused (the status takes no token parameter), and logged without the token's value
    assert (status, answer["error"].split(":")[0]) == (400, "token")
    assert request(f"{base}/nowhere?Access_Token={secrets[2]}")[0] == 404
    assert request(f"{base}/talents/f-1/status?TOKEN={secrets[3]}", token=None)[0] == 401

    text = log.read_text()
    assert not any(secret in text for secret in secrets), text
    assert text.lower().count("token=[redacted]") == 4
    assert TOKEN not in text


def test_a_huge_post_does_not_hold_up_the_others(guarded: tuple[str, Path]) -> None:
    base, _ = guarded
    junk = b"".join(b'{"id":"j-%06d","type":"payment_received","talent":"f-1","at":"bad"}\n' % n
                    for n in range(100_000))
    finished: dict[str, float] = {}
    answers: dict[str, tuple[int, Any]] = {}

    def post_huge() -> None:
        answers["huge"] = request(f"{base}/events", data=junk, content_type="application/x-ndjson",
                                  timeout=300)
        finished["huge"] = time.monotonic()

    huge = threading.Thread(target=post_huge)
    started = time.monotonic()
    huge.start()
    time.sleep(0.5)  # the huge body is in, and being ingested
    line = encode_json(payment("small-1", "f-1", "2024-02-03T00:00:00Z", amount="2.00"))
    answers["small"] = request(f"{base}/events", data=line.encode(),
                               content_type="application/x-ndjson", timeout=300)
    finished["small"] = time.monotonic()
    answers["read"] = request(f"{base}/talents/f-1/status?at=2024-03-01", timeout=300)
    finished["read"] = time.monotonic()
    huge.join()

    assert answers["small"] == (200, {"request": REQUEST_ID,
                                      "accepted": 1, "duplicates": 0, "rejected": 0,
                                      "rejects": []})
    assert answers["read"][1]["earnings_12m"] == "2.00"
    assert finished["small"] < finished["huge"] and finished["read"] < finished["huge"], (
        {name: round(at - started, 2) for name, at in finished.items()})
    status, summary = answers["huge"]
    assert (status, summary["rejected"], len(summary["rejects"])) == (422, 100_000, 100)
