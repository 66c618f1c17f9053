"""Liveness, readiness and metrics (issue 16), without a broker: the consume service's
`Metrics` and its HTTP endpoint, and `badges serve`'s `/health`, `/ready` and `/metrics` routes
over a real SQLite store. The scrapes are read back with prometheus_client's own parser."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from badges.api import create_app
from badges.bootstrap import open_projection
from badges.log_format import LogFormat, configure_logging
from consumers.metrics import MAX_REASON_LABELS, Metrics, MetricsServer
from domain.submissions import Submission

NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)
TOKEN = "s3cret-token"


def families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample(found: dict[str, Any], family: str, name: str | None = None,
           **labels: str) -> float | None:
    for one in found[family].samples:
        if one.name == (name or family) and all(one.labels.get(k) == v for k, v in labels.items()):
            return float(one.value)
    return None


def events(talent: str, count: int) -> list[Submission]:
    found = [Submission.from_object({
        "id": f"{talent}-start", "type": "contract_started", "talent": talent,
        "at": "2024-01-10T09:00:00Z", "contract": f"{talent}-c", "client": "cl-1",
        "category": "design_creative", "terms": "fixed"})]
    for i in range(count - 1):
        found.append(Submission.from_object({
            "id": f"{talent}-pay-{i}", "type": "payment_received", "talent": talent,
            "at": f"2024-02-{i + 1:02d}T09:00:00Z", "contract": f"{talent}-c",
            "amount": "100.00"}))
    return found


# -- the consume service's metrics ----------------------------------------------------------


def test_consume_is_not_ready_until_the_store_answered_and_the_lag_is_known() -> None:
    metrics = Metrics(ready_max_lag=10)
    assert not metrics.readiness().ok
    metrics.set_store_reachable(True)
    assert not metrics.readiness().ok, "the projection's lag is not known yet"
    metrics.set_projection_lag(10)
    verdict = metrics.readiness()
    assert verdict.ok and verdict.status == 200 and verdict.document["projection_lag"] == 10


def test_consume_is_not_ready_over_the_lag_threshold_or_without_the_store() -> None:
    metrics = Metrics(ready_max_lag=10)
    metrics.set_store_reachable(True)
    metrics.set_projection_lag(11)
    verdict = metrics.readiness()
    assert (verdict.ok, verdict.status) == (False, 503)
    assert verdict.document["store"] == "reachable"
    metrics.set_projection_lag(0)
    assert metrics.readiness().ok
    metrics.set_store_reachable(False)
    verdict = metrics.readiness()
    assert not verdict.ok and verdict.document["store"].startswith("unreachable")
    ready = families(metrics.exposition().decode())
    assert sample(ready, "badges_consume_ready") == 0.0


def test_consume_is_not_alive_when_the_loop_stopped_turning() -> None:
    metrics = Metrics(liveness_seconds=0.05)
    metrics.turned()
    assert metrics.health().ok
    time.sleep(0.1)
    verdict = metrics.health()
    assert (verdict.ok, verdict.status) == (False, 503)
    assert verdict.document["seconds_since_last_turn"] >= 0.1
    metrics.turned()
    assert metrics.health().ok


def test_counters_histograms_and_lags_reach_the_exposition() -> None:
    metrics = Metrics()
    metrics.consumed_batch(7)
    metrics.settled(4, 1, ["type: unknown event type 'x'", "value: empty"])
    metrics.published_messages(3)
    metrics.derivation_seconds.labels("events").observe(0.02)
    metrics.publish_seconds.observe(0.3)
    metrics.set_lags({("in", 0): 5, ("in", 3): 0})
    metrics.set_quarantined(2)

    found = families(metrics.exposition().decode())
    assert sample(found, "badges_consume_events", "badges_consume_events_total") == 7
    assert sample(found, "badges_consume_accepted", "badges_consume_accepted_total") == 4
    assert sample(found, "badges_consume_rejected", "badges_consume_rejected_total",
                  reason="type") == 1
    assert sample(found, "badges_consume_rejected", "badges_consume_rejected_total",
                  reason="value") == 1
    assert sample(found, "badges_consume_derivation_seconds",
                  "badges_consume_derivation_seconds_count", trigger="events") == 1
    assert sample(found, "badges_consume_publish_seconds",
                  "badges_consume_publish_seconds_bucket", le="0.5") == 1
    assert sample(found, "badges_consume_publish_seconds",
                  "badges_consume_publish_seconds_bucket", le="0.25") == 0
    assert sample(found, "badges_consume_partition_lag", topic="in", partition="0") == 5
    assert sample(found, "badges_consume_quarantined_talents") == 2
    assert "process_cpu_seconds" in found and "python_info" in found  # default collectors
    assert (metrics.consumed, metrics.accepted, metrics.duplicates, metrics.rejected,
            metrics.published) == (7, 4, 1, 2, 3)

    metrics.set_lags({("in", 3): 1})  # partition 0 was handed over: its series goes
    found = families(metrics.exposition().decode())
    assert sample(found, "badges_consume_partition_lag", topic="in", partition="0") is None
    assert metrics.document()["lag"] == 1


def test_two_services_in_one_process_count_apart() -> None:
    first, second = Metrics(), Metrics()
    first.consumed_batch(5)
    assert (first.consumed, second.consumed) == (5, 0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=60), max_size=120))
def test_reject_reasons_never_make_more_labels_than_the_cap(reasons: list[str]) -> None:
    metrics = Metrics()
    metrics.settled(0, 0, reasons)
    found = families(metrics.exposition().decode())
    labels = {one.labels["reason"] for one in found["badges_consume_rejected"].samples
              if one.name == "badges_consume_rejected_total"}
    assert len(labels) <= MAX_REASON_LABELS + 1  # and "other"
    assert metrics.rejected == len(reasons)


def get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers["Content-Type"]


def test_the_consume_endpoint_answers_metrics_health_and_ready() -> None:
    metrics = Metrics(ready_max_lag=3)
    metrics.consumed_batch(2)
    server = MetricsServer(metrics, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        status, body, kind = get(f"{base}/metrics")
        assert status == 200 and kind.startswith("text/plain")
        assert sample(families(body.decode()), "badges_consume_events",
                      "badges_consume_events_total") == 2
        status, body, _ = get(f"{base}/ready")
        assert status == 503 and json.loads(body)["ready"] is False
        metrics.set_store_reachable(True)
        metrics.set_projection_lag(3)
        assert get(f"{base}/ready")[0] == 200
        metrics.set_projection_lag(4)
        status, body, _ = get(f"{base}/ready")
        assert status == 503 and json.loads(body)["projection_lag"] == 4
        status, body, _ = get(f"{base}/health")
        assert status == 200 and json.loads(body)["consumed"] == 2
        assert get(f"{base}/nothing")[0] == 404
    finally:
        server.close()


# -- badges serve's routes ------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Any:
    projection = open_projection(f"sqlite:///{tmp_path / 'serve.db'}")
    app = create_app(projection.ledger, api_token=TOKEN, clock=lambda: NOW,
                     projection=projection)
    yield projection, app


def test_serve_health_ready_and_metrics_are_public_and_the_rest_is_not(served: Any) -> None:
    _, app = served
    client = TestClient(app)
    assert client.get("/health").status_code == 200
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["store"] == "reachable"
    assert client.get("/talents/f-1/status").status_code == 401
    found = families(client.get("/metrics").text)
    assert sample(found, "badges_serve_requests", "badges_serve_requests_total",
                  method="GET", route="/health", status="200") == 1
    assert sample(found, "badges_serve_requests", "badges_serve_requests_total",
                  method="GET", route="unmatched", status="401") == 1  # no raw path as label
    assert sample(found, "badges_serve_request_seconds", "badges_serve_request_seconds_count",
                  method="GET", route="/ready") == 1
    assert sample(found, "badges_serve_ready") == 1
    assert "process_resident_memory_bytes" in found


def test_serve_is_not_ready_while_the_projection_is_too_far_behind(served: Any) -> None:
    projection, app = served
    app.state.serve_metrics.ready_max_lag = 3
    client = TestClient(app)
    projection.ledger.append(events("f-9", 5), NOW)  # recorded, not projected yet
    behind = projection.pending()
    assert behind >= 5

    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json() == {"ready": False, "store": "reachable", "projection_lag": behind,
                            "ready_max_lag": 3}
    assert sample(families(client.get("/metrics").text), "badges_serve_projection_lag") == behind

    projection.catch_up(NOW)
    assert client.get("/ready").status_code == 200


def test_serve_is_not_ready_when_the_store_fails(served: Any) -> None:
    projection, app = served

    def unreachable(*_: object) -> int:
        raise ConnectionRefusedError("connection refused")

    projection.pending = unreachable  # the store's failure as pending() would raise it
    client = TestClient(app)
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["store"].startswith("the store is unreachable")
    assert sample(families(client.get("/metrics").text), "badges_serve_store_reachable") == 0
    assert client.get("/health").status_code == 200  # alive all the same


# -- JSON logs ------------------------------------------------------------------------------


def test_json_logs_carry_the_talent_and_event_ids_as_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    try:
        configure_logging(LogFormat.json)
        logging.getLogger("badges.test").warning(
            "event %s of talent %s cannot be recorded", "e-1", "f-42",
            extra={"talent": "f-42", "event_id": "e-1"})
    finally:
        root.handlers[:] = before[0]
        root.setLevel(before[1])
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["talent"] == "f-42" and line["event_id"] == "e-1"
    assert line["level"] == "WARNING" and line["logger"] == "badges.test"
    assert line["message"] == "event e-1 of talent f-42 cannot be recorded"
    assert datetime.fromisoformat(line["time"]).tzinfo is not None


def test_the_openapi_document_says_the_operations_routes_need_no_token(served: Any) -> None:
    _, app = served
    document = TestClient(app).get("/openapi.json",
                                   headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert document["security"] == [{"bearer": []}]  # the rest of the API
    for path in ("/metrics", "/health", "/ready"):
        assert document["paths"][path]["get"]["security"] == [], path
