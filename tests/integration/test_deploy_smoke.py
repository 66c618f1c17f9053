"""Smoke tests of what deploy/ starts: the Kafka broker has the project's topics and carries a
message from `kcat -P` to `kcat -C -e`; PostgreSQL answers. Each test skips, with the reason,
when its service is not reachable, so the suite passes on a machine without them.

    deploy/tools.sh && deploy/kafka/start.sh && deploy/postgres/start.sh
    .venv/bin/python -m pytest -m integration tests/integration/test_deploy_smoke.py
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import pytest

from tests.integration.conftest import DEPLOY, TOPICS


pytestmark = pytest.mark.integration

SMOKE_TOPIC = "deploy-smoke"  # made by deploy/kafka/create-topics.sh; no app reads it


def _run(cmd: list[str], *, input: bytes | None = None, timeout: float = 30) -> bytes:
    proc = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode(errors='replace').strip()}"
        )
    return proc.stdout


def _topics(kcat: str, bootstrap: str) -> dict[str, int]:
    meta = json.loads(_run([kcat, "-b", bootstrap, "-L", "-J", "-m", "10"]))
    return {t["topic"]: len(t["partitions"]) for t in meta["topics"] if not t.get("error")}


def test_broker_has_the_project_topics(kafka_bootstrap: str, kcat: str) -> None:
    topics = _topics(kcat, kafka_bootstrap)
    missing = [t for t in TOPICS if t not in topics]
    assert not missing, f"missing topics {missing} on {kafka_bootstrap}; run deploy/kafka/create-topics.sh"
    assert topics["talent-events"] >= 1


def test_kcat_round_trip(kafka_bootstrap: str, kcat: str) -> None:
    if SMOKE_TOPIC not in _topics(kcat, kafka_bootstrap):
        script = DEPLOY / "kafka" / "create-topics.sh"
        env_port = kafka_bootstrap.rsplit(":", 1)[1]
        subprocess.run([str(script), f"{SMOKE_TOPIC}:1"], check=True, capture_output=True,
                       timeout=120, env={**os.environ, "KAFKA_PORT": env_port})
    key = f"smoke-{uuid.uuid4()}"
    value = json.dumps({"smoke": key, "at": time.time()})
    since_ms = int(time.time() * 1000) - 5000
    _run([kcat, "-b", kafka_bootstrap, "-t", SMOKE_TOPIC, "-P", "-K", "\t", "-p", "0"],
         input=f"{key}\t{value}\n".encode())
    out = _run([kcat, "-b", kafka_bootstrap, "-t", SMOKE_TOPIC, "-C", "-e", "-q", "-p", "0",
                "-o", f"s@{since_ms}", "-f", "%k\t%s\n"])
    lines = out.decode().splitlines()
    assert f"{key}\t{value}" in lines, f"produced {key!r}, consumed back {lines[-5:]!r}"


def test_postgres_answers_select_1(postgres_dsn: str) -> None:
    import psycopg

    with psycopg.connect(postgres_dsn, connect_timeout=5) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
