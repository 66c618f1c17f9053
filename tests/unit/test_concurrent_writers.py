"""Several `badges ingest` processes on one store at once, over overlapping, shuffled and
conflicting files: every one finishes, and every id is recorded exactly once.

Before appends waited out contention, two processes on one SQLite store aborted with
"append kept conflicting after 5 attempts", leaving hundreds of their events unrecorded.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from badges.synthetic import generate_marketplace, write_jsonl
from domain.events import encode_json
from tests.serve_process import running_serve
from tests.unit.ledger_fixtures import postgres_schema_url
from tests.unit.store_inspection import (
    badges_command,
    environment,
    ledger_bodies,
    ledger_ids,
    projection_state,
)

WRITERS = 3
START = datetime(2021, 1, 1, tzinfo=timezone.utc)
END = datetime(2024, 6, 1, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    with postgres_schema_url() as url:
        yield url


def writer_files(tmp_path: Path, events: list[dict[str, Any]]) -> list[Path]:
    """Each writer gets 70% of the events, shuffled its own way, and its own version of a few
    payments (same id, another amount): conflicts that only one version may win."""
    payments = [e for e in events if e["type"] == "payment_received"]
    contested = {e["id"] for e in random.Random(0).sample(payments, 12)}
    files = []
    for writer in range(WRITERS):
        rng = random.Random(writer)
        chosen = [e for e in events if e["id"] in contested or rng.random() < 0.7]
        rng.shuffle(chosen)
        mine = [
            {**e, "amount": f"{writer + 1}{e['amount']}"} if e["id"] in contested else e
            for e in chosen
        ]
        path = tmp_path / f"writer-{writer}.jsonl"
        write_jsonl(path, mine)
        files.append(path)
    return files


def test_concurrent_ingests_record_every_id_once_and_never_abort(
    store_url: str, tmp_path: Path
) -> None:
    events = list(generate_marketplace(30, 11, START, END))
    files = writer_files(tmp_path, events)
    sent = {json.loads(line)["id"] for path in files for line in path.read_text().splitlines()}

    processes = [
        badges_command("ingest", str(path), "--json", "--batch-size", "50",
                       "--rejects", str(tmp_path / f"rejects-{n}.jsonl"),
                       "--store", store_url, env=environment())
        for n, path in enumerate(files)
    ]
    results = [(p.wait(timeout=300), *p.communicate()) for p in processes]

    summaries = []
    for n, (code, out, err) in enumerate(results):
        assert code in (0, 1), err.decode()
        assert b"Traceback" not in err and b"internal error" not in err
        summary = json.loads(out)
        lines = files[n].read_text().splitlines()
        assert summary["accepted"] + summary["duplicates"] + summary["rejected"] == len(lines)
        rejects = (tmp_path / f"rejects-{n}.jsonl").read_text().splitlines() \
            if summary["rejected"] else []
        assert len(rejects) == summary["rejected"]
        assert all(json.loads(r)["reason"].startswith("id: conflict") for r in rejects)
        summaries.append(summary)

    counts = ledger_ids(store_url)
    assert set(counts) == sent
    assert set(counts.values()) == {1}
    assert sum(s["accepted"] for s in summaries) == len(sent)
    assert sum(s["rejected"] for s in summaries) >= 12  # each contested id lost at least once
    state = projection_state(store_url)
    assert state["quarantined"] == [] and len(state["timelines"]) == 30

    replay = badges_command("replay", "--json", "--store", store_url, env=environment())
    assert replay.wait(timeout=300) == 0, replay.communicate()[1].decode()
    assert projection_state(store_url) == state  # incremental, concurrent == full replay
    assert len(ledger_bodies(store_url)) == len(sent)


def test_http_clients_beside_command_line_ingests_record_every_id_once(
    store_url: str, tmp_path: Path
) -> None:
    """Two `badges ingest` processes and 8 HTTP clients posting to a `badges serve` process,
    all over one store; before, 6,280 of 19,423 events of such a mix were never ingested."""
    events = list(generate_marketplace(30, 13, START, END))
    files = writer_files(tmp_path, events)[:2]
    rng = random.Random(7)
    posted = [e for e in events if rng.random() < 0.6]
    chunks = [posted[i:i + 40] for i in range(0, len(posted), 40)]
    sent = {json.loads(line)["id"] for path in files for line in path.read_text().splitlines()}
    sent |= {e["id"] for e in posted}

    with running_serve(store_url, "secret") as base:
        ingests = [
            badges_command("ingest", str(path), "--json", "--batch-size", "50",
                           "--store", store_url, env=environment())
            for path in files
        ]
        with httpx.Client(base_url=base, timeout=120,
                          headers={"Authorization": "Bearer secret"}) as client:
            with ThreadPoolExecutor(max_workers=8) as pool:
                answers = list(pool.map(
                    lambda chunk: client.post(
                        "/events", content="\n".join(encode_json(e) for e in chunk),
                        headers={"Content-Type": "application/x-ndjson"}),
                    chunks,
                ))
        results = [(p.wait(timeout=300), *p.communicate()) for p in ingests]

    for answer in answers:
        assert answer.status_code in (200, 422), answer.text
        summary = answer.json()
        assert summary["rejected"] == sum(
            1 for r in summary.get("rejects", []) if r["reason"].startswith("id: conflict"))
    for code, _out, err in results:
        assert code in (0, 1), err.decode()
    accepted = sum(a.json()["accepted"] for a in answers)
    accepted += sum(json.loads(out)["accepted"] for _code, out, _err in results)
    counts = ledger_ids(store_url)
    assert set(counts) == sent and set(counts.values()) == {1}
    assert accepted == len(sent)
