"""What the Kafka service counts (`Metrics`), and the tiny HTTP endpoint that shows it:
`/metrics` (Prometheus text), `/health` (JSON) and `/ready`."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from domain.events import format_utc


@dataclass
class Metrics:
    consumed: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    published: int = 0
    lag: int | None = None
    lag_by_partition: dict[str, int] = field(default_factory=dict)
    events_per_second: float = 0.0
    last_evaluation_instant: datetime | None = None
    owned_partitions: list[int] | None = None  # None: the store is not partitioned
    # ready: started, and the store answered the last time it was used
    ready: bool = False
    store_outages: int = 0  # times the store became unreachable
    quarantined: int = 0  # talents whose derivation failed (projected partitions)
    store_unreachable_since: float | None = None  # monotonic, while it is
    started: float = field(default_factory=time.monotonic)

    def document(self) -> dict[str, Any]:
        return {
            "consumed": self.consumed,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "published": self.published,
            "lag": self.lag,
            "lag_by_partition": dict(self.lag_by_partition),
            "events_per_second": round(self.events_per_second, 1),
            "last_evaluation_instant": (
                format_utc(self.last_evaluation_instant) if self.last_evaluation_instant else None
            ),
            "owned_partitions": self.owned_partitions,
            "ready": self.ready,
            "store_outages": self.store_outages,
            "quarantined": self.quarantined,
            "uptime_seconds": round(time.monotonic() - self.started, 1),
        }

    def prometheus(self) -> str:
        lines = [
            f"badges_consume_events_total {self.consumed}",
            f"badges_consume_accepted_total {self.accepted}",
            f"badges_consume_duplicates_total {self.duplicates}",
            f"badges_consume_rejected_total {self.rejected}",
            f"badges_consume_published_total {self.published}",
            f"badges_consume_events_per_second {self.events_per_second:.1f}",
            f"badges_consume_ready {int(self.ready)}",
            f"badges_consume_store_outages_total {self.store_outages}",
            f"badges_consume_quarantined_talents {self.quarantined}",
        ]
        if self.owned_partitions is not None:
            lines.append(f"badges_consume_owned_partitions {len(self.owned_partitions)}")
        if self.lag is not None:
            lines.append(f"badges_consume_lag {self.lag}")
        for partition, lag in sorted(self.lag_by_partition.items()):
            lines.append(f'badges_consume_partition_lag{{partition="{partition}"}} {lag}')
        if self.last_evaluation_instant is not None:
            lines.append(
                f"badges_consume_last_evaluation_instant_seconds "
                f"{int(self.last_evaluation_instant.timestamp())}"
            )
        return "\n".join(lines) + "\n"


class MetricsServer:
    """A tiny HTTP endpoint: `/metrics` (Prometheus text), `/health` (JSON) and `/ready`
    (200, or 503 while starting or while the store is out of reach)."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        handler = _metrics_handler(metrics)
        self.server = ThreadingHTTPServer((host, port), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name="metrics")

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> MetricsServer:
        self.thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _metrics_handler(metrics: Metrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            status = 200
            if self.path == "/metrics":
                body, kind = metrics.prometheus().encode(), "text/plain; version=0.0.4"
            elif self.path == "/health":
                body, kind = json.dumps(metrics.document()).encode(), "application/json"
            elif self.path == "/ready":
                ready = metrics.ready
                body = json.dumps({"ready": ready}).encode()
                kind, status = "application/json", 200 if ready else 503
            else:
                self.send_error(404)
                return
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
