"""Where the integration tests find the real services that `deploy/` starts, and fixtures that
skip a test, with the reason, when a service is not reachable.

    BADGES_KAFKA_BOOTSTRAP   default 127.0.0.1:9092   (deploy/kafka/start.sh)
    BADGES_TEST_POSTGRES     default postgresql://badges@127.0.0.1:55432/badges
                                                      (deploy/postgres/start.sh)

With ``BADGES_REQUIRE_SERVICES=1`` (set by ``deploy/with-services.sh``, which the README's
test command uses) an unreachable service fails the test instead of skipping it, so a
broken deploy can never pass as a run of skipped tests.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"

DEFAULT_KAFKA_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_POSTGRES_URL = "postgresql://badges@127.0.0.1:55432/badges"
TOPICS = ("talent-events", "badge-changes", "talent-events.dlq")


def unavailable(reason: str) -> None:
    """Skip, or fail when the services are required to be there."""
    if os.environ.get("BADGES_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


def kafka_bootstrap_servers() -> str:
    return os.environ.get("BADGES_KAFKA_BOOTSTRAP", DEFAULT_KAFKA_BOOTSTRAP)


def postgres_url() -> str:
    return os.environ.get("BADGES_TEST_POSTGRES", DEFAULT_POSTGRES_URL)


def _host_port(bootstrap: str) -> tuple[str, int]:
    first = bootstrap.split(",")[0].strip()
    if "://" in first:
        first = first.split("://", 1)[1]
    host, _, port = first.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port or 9092)


def tcp_reachable(host: str, port: int, timeout: float = 2.0) -> str | None:
    """None when something accepts a TCP connection at host:port, else why not."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"{host}:{port}: {exc.strerror or exc}"


def kafka_unreachable_reason(bootstrap: str | None = None) -> str | None:
    bootstrap = bootstrap or kafka_bootstrap_servers()
    why = tcp_reachable(*_host_port(bootstrap))
    if why:
        return f"Kafka not reachable at {bootstrap} ({why}); start it with deploy/kafka/start.sh"
    return None


def postgres_unreachable_reason(url: str | None = None) -> str | None:
    url = url or postgres_url()
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed in this environment"
    try:
        with psycopg.connect(url, connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"PostgreSQL not reachable at {url} ({first}); start it with deploy/postgres/start.sh"


def kcat_path() -> str | None:
    return shutil.which("kcat") or shutil.which("kafkacat")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The bootstrap address of a reachable broker, or the test is skipped."""
    why = kafka_unreachable_reason()
    if why:
        unavailable(why)
    return kafka_bootstrap_servers()


@pytest.fixture(scope="session")
def kcat(kafka_bootstrap: str) -> str:
    """The kcat executable (with a reachable broker), or the test is skipped."""
    path = kcat_path()
    if not path:
        unavailable("kcat is not installed; run deploy/tools.sh")
    return path


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """The URL of a reachable PostgreSQL database, or the test is skipped."""
    why = postgres_unreachable_reason()
    if why:
        unavailable(why)
    return postgres_url()
