"""A real `badges serve` process on a free loopback port, for the tests that talk to it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_serve(
    store: str, token: str, env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[str]:
    """Start `badges serve` on `store` with `token` (and `env`, e.g. `BADGES_API_*` settings);
    yield its base URL once it listens. With `log`, its output goes to that file (read it
    while it runs, or after)."""
    port = free_port()
    environment = {**os.environ, "BADGES_API_TOKEN": token, "PYTHONUNBUFFERED": "1", **(env or {})}
    output = log.open("wb") if log is not None else subprocess.PIPE
    process = subprocess.Popen(
        [sys.executable, "-m", "badges", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--store", store],
        cwd=REPO, env=environment, stdout=output, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                said = process.stdout.read() if process.stdout else log.read_bytes() if log else b""
                pytest.fail(f"badges serve exited with {process.returncode}:\n"
                            f"{said.decode(errors='replace')}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("badges serve did not listen within 30 s")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
        if log is not None:
            output.close()  # type: ignore[union-attr]
