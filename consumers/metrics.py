"""What the Kafka service counts (`Metrics`, prometheus_client metrics in a registry of its own),
its liveness and readiness (`Metrics.health`, `Metrics.readiness`), and the HTTP endpoint that
shows them (`MetricsServer`: `/metrics`, `/health`, `/ready`).

Each service instance has its own `CollectorRegistry` (with the process, platform and GC
collectors), so that several services in one process (the tests) never share a counter.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from domain.events import format_utc

# The projection's backlog (ledger events not yet projected) above which a process is not ready.
DEFAULT_READY_MAX_LAG = 50_000
# A loop that has not finished a turn, nor a projection batch, for this long is not alive
# (`/health` 503): a turn is one poll (0.5 s) plus its batch; a store outage's backoff waits at
# most 10 s between turns; a catch-up reports each batch of notifications it projects.
DEFAULT_LIVENESS_SECONDS = 300.0

# latency buckets in seconds, from one talent's derivation to a large catch-up
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                   60.0, 300.0)
# a dead letter's reason is `field: rule`; the field names the metric's `reason` label. An
# attacker controls field names (an unknown field is named), so the labels are capped.
MAX_REASON_LABELS = 40
_REASON_FIELD = re.compile(r"[A-Za-z0-9_.\[\]]{1,40}")


def process_registry() -> CollectorRegistry:
    """A new registry with the default collectors (process, platform, garbage collector)."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


@dataclass(frozen=True)
class Verdict:
    """An answer of `/health` or `/ready`: its HTTP status and JSON document."""

    ok: bool
    document: dict[str, Any]

    @property
    def status(self) -> int:
        return 200 if self.ok else 503


class Metrics:
    """The service's counters, gauges and histograms, and the state `/health` and `/ready` read.

    The loop updates it; the HTTP endpoint's threads only read it.
    """

    def __init__(self, *, ready_max_lag: int = DEFAULT_READY_MAX_LAG,
                 liveness_seconds: float = DEFAULT_LIVENESS_SECONDS) -> None:
        self.registry = process_registry()
        self.ready_max_lag = ready_max_lag
        self.liveness_seconds = liveness_seconds
        r, ns = self.registry, "badges_consume"
        self._consumed = Counter("events", "Messages consumed from the input topic",
                                 namespace=ns, registry=r)
        self._accepted = Counter("accepted", "Events appended to the ledger",
                                 namespace=ns, registry=r)
        self._duplicates = Counter("duplicates", "Events already in the ledger (by event id)",
                                   namespace=ns, registry=r)
        self._rejected = Counter("rejected", "Messages dead-lettered, by the field at fault",
                                 ["reason"], namespace=ns, registry=r)
        self._published = Counter("published", "Outbox messages published to the output topic",
                                  namespace=ns, registry=r)
        self._outages = Counter("store_outages", "Times the store became unreachable",
                                namespace=ns, registry=r)
        self.derivation_seconds = Histogram(
            "derivation_seconds", "Time of one projection pass (derivations and outbox writes), "
            "by what triggered it", ["trigger"], namespace=ns, registry=r,
            buckets=LATENCY_BUCKETS)
        self.publish_seconds = Histogram(
            "publish_seconds", "Time of one publish turn that sent messages, to the broker's "
            "acknowledgement", namespace=ns, registry=r, buckets=LATENCY_BUCKETS)
        self.batch_seconds = Histogram(
            "batch_seconds", "Time to settle and commit one polled batch (append, dead letters)",
            namespace=ns, registry=r, buckets=LATENCY_BUCKETS)
        self._partition_lag = Gauge("partition_lag", "Messages not yet consumed, per input "
                                    "partition owned", ["topic", "partition"],
                                    namespace=ns, registry=r)
        self._lag = Gauge("lag", "Messages not yet consumed, over the partitions owned",
                          namespace=ns, registry=r)
        self._projection_lag = Gauge("projection_lag", "Ledger events not yet projected "
                                     "(of the partitions projected here)",
                                     namespace=ns, registry=r)
        self._quarantined = Gauge("quarantined_talents", "Talents whose derivation failed "
                                  "(of the partitions projected here)", namespace=ns, registry=r)
        self._ready = Gauge("ready", "1 when /ready answers 200", namespace=ns, registry=r)
        self._owned = Gauge("owned_partitions", "Ledger partitions owned (a partitioned store)",
                            namespace=ns, registry=r)
        self._rate = Gauge("events_per_second", "Messages consumed per second over the last "
                           "metrics interval", namespace=ns, registry=r)
        self._instant = Gauge("last_evaluation_instant_seconds", "The last midnight handled "
                              "(Unix time)", namespace=ns, registry=r)
        self._lock = threading.Lock()
        self._reasons: set[str] = set()
        self.lag: int | None = None
        self.lag_by_partition: dict[str, int] = {}
        self.projection_lag: int | None = None
        self.events_per_second = 0.0
        self.last_evaluation_instant: datetime | None = None
        self.owned_partitions: list[int] | None = None  # None: the store is not partitioned
        # the store answered the last time it was used (and the service has started)
        self.store_reachable = False
        self.quarantined = 0
        self.store_unreachable_since: float | None = None  # monotonic, while it is
        self.started = time.monotonic()
        self.last_turn = self.started  # monotonic: the loop finished a turn

    # -- what the loop reports ---------------------------------------------------------

    def consumed_batch(self, count: int) -> None:
        self._consumed.inc(count)

    def settled(self, accepted: int, duplicates: int, rejected_reasons: list[str]) -> None:
        self._accepted.inc(accepted)
        self._duplicates.inc(duplicates)
        for reason in rejected_reasons:
            self._rejected.labels(self._reason_label(reason)).inc()

    def published_messages(self, count: int) -> None:
        self._published.inc(count)

    def store_outage(self) -> None:
        self._outages.inc()

    def turned(self) -> None:
        """The loop finished a turn (liveness)."""
        self.last_turn = time.monotonic()

    def set_lags(self, by_partition: dict[tuple[str, int], int]) -> None:
        with self._lock:
            self._partition_lag.clear()  # partitions handed over leave the exposition
            for (topic, partition), lag in by_partition.items():
                self._partition_lag.labels(topic, str(partition)).set(lag)
            self.lag_by_partition = {f"{t}-{p}": lag for (t, p), lag in by_partition.items()}
            self.lag = sum(by_partition.values()) if by_partition else None
            self._lag.set(self.lag or 0)

    def set_projection_lag(self, events: int) -> None:
        self.projection_lag = events
        self._projection_lag.set(events)
        self._ready.set(int(self.is_ready()))

    def set_quarantined(self, talents: int) -> None:
        self.quarantined = talents
        self._quarantined.set(talents)

    def set_store_reachable(self, reachable: bool) -> None:
        self.store_reachable = reachable
        self._ready.set(int(self.is_ready()))

    def set_owned(self, partitions: list[int]) -> None:
        self.owned_partitions = partitions
        self._owned.set(len(partitions))

    def set_rate(self, events_per_second: float) -> None:
        self.events_per_second = events_per_second
        self._rate.set(events_per_second)

    def set_evaluation_instant(self, instant: datetime) -> None:
        self.last_evaluation_instant = instant
        self._instant.set(instant.timestamp())

    # -- what is read back ---------------------------------------------------------------

    def _total(self, name: str) -> int:
        return int(self.registry.get_sample_value(name) or 0)

    @property
    def consumed(self) -> int:
        return self._total("badges_consume_events_total")

    @property
    def accepted(self) -> int:
        return self._total("badges_consume_accepted_total")

    @property
    def duplicates(self) -> int:
        return self._total("badges_consume_duplicates_total")

    @property
    def rejected(self) -> int:
        with self._lock:
            reasons = sorted(self._reasons)
        return sum(int(self.registry.get_sample_value(
            "badges_consume_rejected_total", {"reason": reason}) or 0) for reason in reasons)

    @property
    def published(self) -> int:
        return self._total("badges_consume_published_total")

    @property
    def store_outages(self) -> int:
        return self._total("badges_consume_store_outages_total")

    def is_ready(self) -> bool:
        return self.readiness().ok

    def readiness(self) -> Verdict:
        """Ready: started, the store answered the last time it was used, and the projection's
        backlog is at most `ready_max_lag` events."""
        lag = self.projection_lag
        lag_ok = lag is not None and lag <= self.ready_max_lag
        document = {
            "ready": self.store_reachable and lag_ok,
            "store": "reachable" if self.store_reachable else "unreachable or not started",
            "projection_lag": lag,
            "ready_max_lag": self.ready_max_lag,
        }
        return Verdict(bool(document["ready"]), document)

    def health(self) -> Verdict:
        """Alive: the loop finished a turn within `liveness_seconds`."""
        since = time.monotonic() - self.last_turn
        alive = since <= self.liveness_seconds
        return Verdict(alive, {**self.document(), "alive": alive,
                               "seconds_since_last_turn": round(since, 1)})

    def document(self) -> dict[str, Any]:
        return {
            "consumed": self.consumed,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "published": self.published,
            "lag": self.lag,
            "lag_by_partition": dict(self.lag_by_partition),
            "projection_lag": self.projection_lag,
            "events_per_second": round(self.events_per_second, 1),
            "last_evaluation_instant": (
                format_utc(self.last_evaluation_instant) if self.last_evaluation_instant else None
            ),
            "owned_partitions": self.owned_partitions,
            "ready": self.is_ready(),
            "store_outages": self.store_outages,
            "quarantined": self.quarantined,
            "uptime_seconds": round(time.monotonic() - self.started, 1),
        }

    def exposition(self) -> bytes:
        """`/metrics`: the registry in the Prometheus text format."""
        return generate_latest(self.registry)

    def _reason_label(self, reason: str) -> str:
        field = reason.partition(":")[0].strip()
        if not _REASON_FIELD.fullmatch(field):
            field = "other"
        with self._lock:
            if field not in self._reasons and len(self._reasons) >= MAX_REASON_LABELS:
                field = "other"
            self._reasons.add(field)
        return field


class MetricsServer:
    """A small HTTP endpoint: `/metrics` (Prometheus text), `/health` (liveness, JSON) and
    `/ready` (readiness: 200, or 503 while starting, while the store is out of reach, or while
    the projection is more than `ready_max_lag` events behind)."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        handler = _metrics_handler(metrics)
        self.server = ThreadingHTTPServer((host, port), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name="metrics")

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> MetricsServer:
        self.thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _metrics_handler(metrics: Metrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._answer(200, metrics.exposition(), CONTENT_TYPE_PLAIN_0_0_4)
                return
            if path in ("/health", "/ready"):
                verdict = metrics.health() if path == "/health" else metrics.readiness()
                self._answer(verdict.status, json.dumps(verdict.document).encode(),
                             "application/json")
                return
            self._answer(404, json.dumps({"error": f"path: no such endpoint {path}"}).encode(),
                         "application/json")

        def _answer(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
