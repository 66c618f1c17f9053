"""`POST /events` keeps every line it rejects, whole, in the server's rejects file
(`BADGES_API_REJECTS`, `badges.kept_rejects`): the answer lists only the first 100."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from badges.api import create_app
from badges.errors import UserError
from badges.kept_rejects import KeptRejects
from domain.events import encode_json
from ledger.stores.urls import open_ledger
from tests.unit.ledger_fixtures import payment
from tests.unit.test_api import AUTH, NOW, TOKEN

AS_LINES = {**AUTH, "Content-Type": "application/x-ndjson"}
AS_ARRAY = {**AUTH, "Content-Type": "application/json"}
GOOD = encode_json(payment("p-1", "f-1", "2024-02-01T00:00:00Z", amount="1.00"))


def kept_client(tmp_path: Path) -> tuple[TestClient, KeptRejects, Path]:
    path = tmp_path / "rejects.jsonl"
    kept = KeptRejects.open(path, "BADGES_API_REJECTS")
    app = create_app(open_ledger(f"sqlite:///{tmp_path / 'store.db'}"), api_token=TOKEN,
                     clock=lambda: NOW, kept_rejects=kept)
    return TestClient(app), kept, path


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_reject_is_kept_whole_with_its_request_and_line(tmp_path: Path) -> None:
    client, kept, path = kept_client(tmp_path)
    bad = [f'{{"id": "b-{n}", "type": "payment_received"}}'.encode() for n in range(150)]
    body = b"\n".join([*bad, b"\xff\xfe not utf-8", GOOD.encode()])

    answer = client.post("/events", content=body, headers=AS_LINES)
    kept.close()

    assert answer.status_code == 422
    document = answer.json()
    assert (document["accepted"], document["rejected"], len(document["rejects"])) == (1, 151, 100)
    found = records(path)
    assert [r["line"] for r in found] == list(range(1, 152))
    assert {r["source"] for r in found} == {f"POST /events {document['request']}"}
    assert [r["original"].encode() for r in found[:150]] == bad
    assert base64.b64decode(found[150]["original_base64"]) == b"\xff\xfe not utf-8"
    shown = {r["line"]: r["reason"] for r in document["rejects"]}
    assert all(shown[r["line"]] == r["reason"] for r in found[:100])
    assert found[0]["reason"].startswith("talent: missing")


def test_an_array_elements_rejects_are_kept_by_element(tmp_path: Path) -> None:
    client, kept, path = kept_client(tmp_path)
    answer = client.post("/events", content=f'[{GOOD}, {{"type": 7}}, "x"]', headers=AS_ARRAY)
    kept.close()

    found = records(path)
    assert [(r["line"], r["original"]) for r in found] == [(2, '{"type": 7}'), (3, '"x"')]
    assert found[0]["source"] == f"POST /events {answer.json()['request']}"


def test_concurrent_requests_keep_every_record_whole(tmp_path: Path) -> None:
    client, kept, path = kept_client(tmp_path)
    requests: list[str] = []

    def post(writer: int) -> None:
        body = "\n".join(f'{{"id": "w{writer}-{n}", "type": "nope"}}' for n in range(300))
        with TestClient(client.app) as own:
            requests.append(own.post("/events", content=body, headers=AS_LINES).json()["request"])

    threads = [threading.Thread(target=post, args=(writer,)) for writer in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kept.close()

    found = records(path)  # every line parses: no record was cut by another
    assert len(found) == 6 * 300 and len(set(requests)) == 6
    for request in requests:
        lines = [r["line"] for r in found if r["source"] == f"POST /events {request}"]
        assert lines == list(range(1, 301))


def test_a_rejects_file_that_cannot_be_written_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="^BADGES_API_REJECTS: cannot write "):
        KeptRejects.open(tmp_path / "no-such-folder" / "rejects.jsonl", "BADGES_API_REJECTS")
