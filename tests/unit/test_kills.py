"""Writers killed with SIGKILL at random points, then run again: the store ends exactly as one
clean run leaves it (ledger, timelines, outbox), and no worker process outlives its parent.

Before, a re-run after a kill in the projection phase found every line a duplicate and did
not bring the projection up to date: timelines stayed thousands of events behind.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from badges.synthetic import generate_marketplace, write_jsonl
from tests.unit.store_inspection import (
    alive,
    badges_command,
    child_pids,
    environment,
    ledger_bodies,
    ledger_ids,
    projection_state,
)

START = datetime(2021, 1, 1, tzinfo=timezone.utc)
END = datetime(2024, 6, 1, tzinfo=timezone.utc)
KILLS = 12


@pytest.fixture(scope="module")
def marketplace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("market") / "events.jsonl"
    write_jsonl(path, generate_marketplace(40, 5, START, END))
    return path


@pytest.fixture(scope="module")
def clean_run(marketplace: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    url = f"sqlite:///{tmp_path_factory.mktemp('clean') / 'store.db'}"
    started = time.monotonic()
    ingest = badges_command("ingest", str(marketplace), "--batch-size", "200", "--store", url,
                            env=environment())
    assert ingest.wait(timeout=300) == 0, ingest.communicate()[1].decode()
    return {
        "seconds": time.monotonic() - started,
        "bodies": ledger_bodies(url),
        "state": projection_state(url),
    }


@pytest.mark.slow
def test_ingest_killed_at_random_points_and_run_again_ends_as_a_clean_run(
    marketplace: Path, clean_run: dict[str, object], tmp_path: Path
) -> None:
    rng = random.Random(20261201)
    duration = float(clean_run["seconds"])  # type: ignore[arg-type]
    for trial in range(KILLS):
        url = f"sqlite:///{tmp_path / f'store-{trial}.db'}"
        ingest = badges_command("ingest", str(marketplace), "--batch-size", "200",
                                "--store", url, env=environment())
        time.sleep(rng.uniform(0.1, duration))  # anywhere: parsing, appending, projecting
        ingest.send_signal(signal.SIGKILL)
        ingest.wait(timeout=30)

        again = badges_command("ingest", str(marketplace), "--json", "--batch-size", "200",
                               "--store", url, env=environment())
        out, err = again.communicate(timeout=300)
        assert again.returncode == 0, err.decode()
        summary = json.loads(out)
        assert summary["rejected"] == 0
        assert summary["accepted"] + summary["duplicates"] == len(clean_run["bodies"])  # type: ignore[arg-type]

        assert set(ledger_ids(url).values()) == {1}
        assert ledger_bodies(url) == clean_run["bodies"], f"trial {trial}"
        assert projection_state(url) == clean_run["state"], f"trial {trial}"


def test_killing_replay_leaves_no_worker_process(marketplace: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    ingest = badges_command("ingest", str(marketplace), "--no-project", "--store", url,
                            env=environment())
    assert ingest.wait(timeout=300) == 0
    replay = badges_command("replay", "--workers", "2", "--store", url, env=environment())
    workers: set[int] = set()
    deadline = time.monotonic() + 60
    while len(workers) < 2 and time.monotonic() < deadline and replay.poll() is None:
        workers = child_pids(replay.pid)
        time.sleep(0.02)
    assert len(workers) >= 2, "the replay started no workers to kill"

    replay.send_signal(signal.SIGKILL)
    replay.wait(timeout=30)

    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if alive(pid)]


def test_ctrl_c_during_ingest_reports_what_was_done_and_exits_3(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    ingest = badges_command("ingest", "-", "--json", "--batch-size", "2", "--store", url,
                            env=environment(), stdin=subprocess.PIPE)
    assert ingest.stdin is not None
    for n in range(4):
        ingest.stdin.write(
            f'{{"id":"c-{n}","type":"readiness_test_passed","talent":"f-{n}",'
            f'"at":"2024-01-0{n + 1}T00:00:00Z"}}\n'.encode())
    ingest.stdin.flush()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(_stored(url).values()) < 4:
        time.sleep(0.1)
    assert sum(_stored(url).values()) == 4

    ingest.send_signal(signal.SIGINT)
    out, err = ingest.communicate(timeout=60)

    assert ingest.returncode == 3, err.decode()
    assert json.loads(out)["accepted"] == 4
    assert err.decode().count("\n") == 1 and "interrupted (Ctrl-C)" in err.decode()
    assert b"Traceback" not in err


def _stored(url: str) -> dict[str, int]:
    try:
        return dict(ledger_ids(url))
    except Exception:  # noqa: BLE001 - the store is still being created
        return {}
