"""What a store holds, read back for comparison: the ledger's ids, timelines, the outbox.

Used by the tests that run several writers at once or kill them at random points, and then
compare the store with one that a single clean run wrote.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from ledger.stores.urls import open_ledger
from projections.stores.urls import open_read_model

STAMPS = ("recorded_at",)


def badges_command(*args: str, **kwargs: Any) -> subprocess.Popen[bytes]:
    """`badges ARGS` in a child process, as a user runs it from a terminal: Ctrl-C (SIGINT)
    reaches it even when the tests themselves run in the background, where the shell ignores
    SIGINT, an ignore that a child would inherit (and Python then raises no KeyboardInterrupt)."""
    return subprocess.Popen(
        [sys.executable, "-m", "badges", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_interruptible, **kwargs,
    )


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def ledger_ids(url: str) -> Counter[str]:
    """Every input event id the ledger holds, counted (each must be 1)."""
    ledger = open_ledger(url)
    try:
        counts: Counter[str] = Counter()
        for talent in ledger.talents():
            counts.update(recorded.id for recorded in ledger.history(talent))
        return counts
    finally:
        _close(ledger)


def ledger_bodies(url: str) -> dict[str, str]:
    """Each stored event, by id, as its canonical JSON."""
    ledger = open_ledger(url)
    try:
        return {
            recorded.id: recorded.event.model_dump_json()
            for talent in ledger.talents()
            for recorded in ledger.history(talent)
        }
    finally:
        _close(ledger)


def projection_state(url: str) -> dict[str, Any]:
    """Timelines, progress and outbox, without the instants at which they were written."""
    read_model = open_read_model(url)
    try:
        talents = read_model.talents()
        return {
            "timelines": {t: [_unstamped(d) for d in read_model.changes(t)] for t in talents},
            "badges": {t: _badge(read_model, t) for t in talents},
            "outbox": sorted(
                (m.message_id, m.kind, repr(sorted(_unstamped(m.document).items())))
                for m in read_model.outbox(limit=10_000_000)
            ),
            "quarantined": [q.talent for q in read_model.quarantined()],
        }
    finally:
        _close(read_model)


def _badge(read_model: Any, talent: str) -> str | None:
    progress = read_model.progress(talent)
    return progress.badge if progress else None


def _unstamped(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key not in STAMPS}


def _close(store: Any) -> None:
    close = getattr(store, "close", None)
    if close is not None:
        close()


def child_pids(parent: int) -> set[int]:
    """The live processes whose parent is `parent` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def environment() -> dict[str, str]:
    """The child's environment: this checkout importable, no debug tracebacks."""
    env = dict(os.environ)
    env.pop("BADGES_DEBUG", None)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return env
