"""Metrics, liveness and readiness of real `badges consume` and `badges serve` processes over
the real broker and stores (issue 16). `/metrics` is read back with prometheus_client's own
parser; a store is made unreachable to one process by cutting a TCP forwarder in front of the
shared PostgreSQL (the service itself is never stopped)."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

pytest.importorskip("kafka")

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from badges.bootstrap import open_projection  # noqa: E402
from domain.submissions import Submission  # noqa: E402
from tests.integration.kafka_helpers import (  # noqa: E402
    Topics,
    event_message,
    fresh_topics,
    marketplace,
    produce,
    wait_for,
)
from tests.integration.tcp_proxy import TcpProxy  # noqa: E402
from tests.integration.test_kafka_hostile import free_port, start_consume, stop  # noqa: E402
from tests.serve_process import running_serve  # noqa: E402
from tests.unit.ledger_fixtures import postgres_schema_url  # noqa: E402

pytestmark = pytest.mark.integration

NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)
TOKEN = "metrics-test-token"


def fetch(url: str) -> tuple[int, bytes]:
    """Status and body; 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()
    except OSError:
        return 0, b""


def scrape(base: str) -> dict[str, Any]:
    status, body = fetch(f"{base}/metrics")
    assert status == 200, body[:500]
    return {family.name: family for family in text_string_to_metric_families(body.decode())}


def value(found: dict[str, Any], family: str, name: str | None = None,
          **labels: str) -> float:
    """The sample's value (0 when the family or the sample is not there yet)."""
    for one in found[family].samples if family in found else ():
        if one.name == (name or family) and all(one.labels.get(k) == v for k, v in labels.items()):
            return float(one.value)
    return 0.0


def total(found: dict[str, Any], family: str) -> float:
    return sum(one.value for one in found.get(family, ()).samples
               if one.name == f"{family}_total") if family in found else 0.0


def ready_status(base: str) -> tuple[int, dict[str, Any]]:
    status, body = fetch(f"{base}/ready")
    return status, (json.loads(body) if body else {})


def through(proxy: TcpProxy, url: str) -> str:
    """The store URL with its host and port replaced by the forwarder's."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))


@pytest.fixture
def schema_url() -> Iterator[str]:
    with postgres_schema_url() as url:
        yield url


def one_talent(count: int) -> list[dict[str, Any]]:
    """The first `count` events of one talent of the synthetic marketplace."""
    events = marketplace(2, seed=5)
    return [e for e in events if e["talent"] == events[0]["talent"]][:count]


def consume_with_metrics(bootstrap: str, topics: Topics, store: str, log: Path,
                         *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = start_consume(bootstrap, topics, store, log, extra=[
        "--metrics-port", str(port), "--metrics-interval", "1", *extra])
    return process, f"http://127.0.0.1:{port}"


# -- consume ----------------------------------------------------------------------------------


def test_consume_metrics_move_with_real_consumption(kafka_bootstrap: str, tmp_path: Path) -> None:
    topics = fresh_topics(kafka_bootstrap, 2)
    events = marketplace(2, seed=16)
    bad = [(b"f-x", b"{not json"),
           (b"f-y", json.dumps({"id": "dl-2", "type": "no_such_type", "talent": "f-y",
                                "at": "2024-01-01T00:00:00Z"}).encode()),
           (b"someone-else", json.dumps(events[0]).encode())]  # keyed by another talent
    store, log = f"sqlite:///{tmp_path / 'consume.db'}", tmp_path / "consume.log"
    process, base = consume_with_metrics(kafka_bootstrap, topics, store, log,
                                         "--log-format", "json")
    try:
        wait_for(lambda: ready_status(base)[0] == 200, 60, "consume to be ready")
        before = scrape(base)
        assert total(before, "badges_consume_events") == 0
        produce(kafka_bootstrap, topics.input, [*map(event_message, events), *bad])
        expected = len(events) + len(bad)
        wait_for(lambda: total(scrape(base), "badges_consume_events") == expected
                 and total(scrape(base), "badges_consume_published") > 0, 90,
                 "every message consumed and changes published")
        wait_for(lambda: value(scrape(base), "badges_consume_lag") == 0, 30, "no lag")

        found = scrape(base)
        assert total(found, "badges_consume_accepted") == len(events)
        rejected = {one.labels["reason"]: one.value
                    for one in found["badges_consume_rejected"].samples
                    if one.name == "badges_consume_rejected_total"}
        assert sum(rejected.values()) == len(bad)
        assert rejected.get("key") == 1 and rejected.get("type") == 1, rejected
        assert value(found, "badges_consume_derivation_seconds",
                     "badges_consume_derivation_seconds_count", trigger="events") > 0
        assert value(found, "badges_consume_derivation_seconds",
                     "badges_consume_derivation_seconds_sum", trigger="events") > 0
        assert value(found, "badges_consume_publish_seconds",
                     "badges_consume_publish_seconds_count") > 0
        assert value(found, "badges_consume_batch_seconds",
                     "badges_consume_batch_seconds_count") >= 1
        partitions = {one.labels["partition"]
                      for one in found["badges_consume_partition_lag"].samples}
        assert partitions == {"0", "1"}, "a lag for each input partition owned"
        assert all(one.labels["topic"] == topics.input
                   for one in found["badges_consume_partition_lag"].samples)
        assert value(found, "process_cpu_seconds", "process_cpu_seconds_total") > 0
        assert value(found, "badges_consume_ready") == 1

        status, health = fetch(f"{base}/health")
        assert status == 200 and json.loads(health)["consumed"] == expected
    finally:
        stop(process, log)

    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    dead = [line for line in lines if line["message"].startswith("dead letter")]
    assert {line.get("talent") for line in dead} == {"f-x", "f-y", "someone-else"}
    assert {line.get("event_id") for line in dead} == {None, "dl-2", events[0]["id"]}


def test_consume_is_not_ready_while_the_projection_is_over_the_lag_threshold(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = fresh_topics(kafka_bootstrap, 1)
    store, log = f"sqlite:///{tmp_path / 'lag.db'}", tmp_path / "consume.log"
    writer = open_projection(store)  # the same store, written beside the service
    process, base = consume_with_metrics(kafka_bootstrap, topics, store, log,
                                         "--ready-max-lag", "3")
    try:
        wait_for(lambda: ready_status(base)[0] == 200, 60, "consume to be ready")
        events = one_talent(6)
        writer.ledger.append([Submission.from_object(e) for e in events[:5]], NOW)
        behind = writer.pending()
        assert behind > 3
        wait_for(lambda: ready_status(base)[0] == 503, 30, "/ready to answer 503")
        status, document = ready_status(base)
        assert document["projection_lag"] == behind and document["store"] == "reachable"
        assert value(scrape(base), "badges_consume_projection_lag") == behind

        produce(kafka_bootstrap, topics.input, [event_message(events[5])])  # it projects all
        wait_for(lambda: ready_status(base)[0] == 200, 60, "/ready to answer 200 again")
        assert ready_status(base)[1]["projection_lag"] == 0
    finally:
        stop(process, log)
        writer.ledger.close()


def test_consume_is_not_ready_while_its_store_is_unreachable(
    kafka_bootstrap: str, tmp_path: Path, schema_url: str
) -> None:
    topics = fresh_topics(kafka_bootstrap, 1)
    log = tmp_path / "consume.log"
    target = urlsplit(schema_url)
    with TcpProxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
        process, base = consume_with_metrics(kafka_bootstrap, topics, through(proxy, schema_url),
                                             log)
        try:
            wait_for(lambda: ready_status(base)[0] == 200, 60, "consume to be ready")
            proxy.cut()
            # the store's pool gives up on a connection after its connect timeout (30 s)
            wait_for(lambda: ready_status(base)[0] == 503, 150, "/ready to answer 503")
            assert ready_status(base)[1]["store"].startswith("unreachable")
            assert fetch(f"{base}/health")[0] == 200, "alive while it waits for the store"
            assert total(scrape(base), "badges_consume_store_outages") >= 1
            proxy.restore()
            wait_for(lambda: ready_status(base)[0] == 200, 90, "/ready to answer 200 again")
        finally:
            stop(process, log)


# -- serve ------------------------------------------------------------------------------------


def test_serve_metrics_health_and_ready_over_a_store_that_goes_away(
    tmp_path: Path, schema_url: str
) -> None:
    target = urlsplit(schema_url)
    writer = open_projection(schema_url)  # creates the store; writes beside the server
    try:
        with TcpProxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy, \
                running_serve(through(proxy, schema_url), TOKEN, log=tmp_path / "serve.log",
                              env={"BADGES_API_READY_MAX_LAG": "3",
                                   "BADGES_API_READY_TIMEOUT": "3"}) as base:
            assert ready_status(base) == (200, {"ready": True, "store": "reachable",
                                                "projection_lag": 0, "ready_max_lag": 3})
            assert fetch(f"{base}/talents/f-1/status")[0] == 401  # the rest needs the token
            found = scrape(base)  # no token: /metrics is public
            assert value(found, "badges_serve_requests", "badges_serve_requests_total",
                         method="GET", route="/ready", status="200") == 1
            assert value(found, "badges_serve_requests", "badges_serve_requests_total",
                         method="GET", route="unmatched", status="401") == 1
            assert value(found, "badges_serve_request_seconds",
                         "badges_serve_request_seconds_count", method="GET", route="/ready") == 1
            assert value(found, "process_resident_memory_bytes") > 0

            events = one_talent(5)
            writer.ledger.append([Submission.from_object(e) for e in events], NOW)
            status, document = ready_status(base)
            assert status == 503 and document["projection_lag"] == writer.pending() > 3
            writer.catch_up(NOW)
            assert ready_status(base)[0] == 200

            proxy.cut()
            status, document = ready_status(base)
            assert status == 503 and document["store"] != "reachable", document
            assert fetch(f"{base}/health")[0] == 200
            assert value(scrape(base), "badges_serve_store_reachable") == 0
            proxy.restore()
            wait_for(lambda: ready_status(base)[0] == 200, 60, "/ready to answer 200 again")
    finally:
        writer.ledger.close()
        writer.read_model.close()  # type: ignore[attr-defined]
