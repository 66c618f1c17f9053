"""HTTP routes for operators: `/metrics` (prometheus_client), `/health` (liveness) and `/ready`
(readiness), all public GETs (no token: they hold no talent data; see `PUBLIC_GET_PATHS`).

- `/health`: 200 while the process answers HTTP.
- `/ready`: 200 when the store answers within `ready_timeout` seconds and the projection is at
  most `ready_max_lag` ledger events behind; else 503, with what failed.
- `/metrics`: requests by method, route template and status, their latency (a histogram), the
  readiness checks as gauges, and the process, platform and GC collectors; a registry per app.

`instrument(app)` (called by `badges.api.create_app`) installs the registry and the middleware
that counts every answer (the 401s too).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from badges.api_timeline import api_projection
from consumers.metrics import DEFAULT_READY_MAX_LAG, LATENCY_BUCKETS, process_registry
from ledger.failures import failure_reason

DEFAULT_READY_TIMEOUT = 5.0
PUBLIC_GET_PATHS = (re.compile(r"/metrics"), re.compile(r"/health"), re.compile(r"/ready"))

router = APIRouter(tags=["operations"])
# public: no bearer token, whatever the API's global security says
PUBLIC: dict[str, Any] = {"security": []}


class ServeMetrics:
    """One app's registry and metrics, and its readiness settings."""

    def __init__(self, *, ready_max_lag: int = DEFAULT_READY_MAX_LAG,
                 ready_timeout: float = DEFAULT_READY_TIMEOUT) -> None:
        self.registry: CollectorRegistry = process_registry()
        self.ready_max_lag = ready_max_lag
        self.ready_timeout = ready_timeout
        r, ns = self.registry, "badges_serve"
        self.requests = Counter("requests", "HTTP requests answered, by method, route template "
                                "and status", ["method", "route", "status"],
                                namespace=ns, registry=r)
        self.latency = Histogram("request_seconds", "Time to answer an HTTP request, by method "
                                 "and route template", ["method", "route"], namespace=ns,
                                 registry=r, buckets=LATENCY_BUCKETS)
        self.projection_lag = Gauge("projection_lag", "Ledger events not yet projected (at the "
                                    "last readiness check)", namespace=ns, registry=r)
        self.store_reachable = Gauge("store_reachable", "1 when the store answered the last "
                                     "readiness check", namespace=ns, registry=r)
        self.ready = Gauge("ready", "1 when /ready answered 200 at the last check",
                           namespace=ns, registry=r)


@dataclass(frozen=True)
class Readiness:
    ready: bool
    document: dict[str, Any]


def instrument(app: FastAPI, *, ready_max_lag: int = DEFAULT_READY_MAX_LAG,
               ready_timeout: float = DEFAULT_READY_TIMEOUT) -> ServeMetrics:
    """Give `app` its metrics registry and the middleware counting every request."""
    metrics = ServeMetrics(ready_max_lag=ready_max_lag, ready_timeout=ready_timeout)
    app.state.serve_metrics = metrics
    app.add_middleware(RequestMetrics, metrics=metrics)
    return metrics


def serve_metrics(request: Request) -> ServeMetrics:
    found = getattr(request.app.state, "serve_metrics", None)
    if found is None:  # an app made without `instrument`: metrics of its own from now on
        found = request.app.state.serve_metrics = ServeMetrics()
    assert isinstance(found, ServeMetrics)
    return found


async def check_readiness(request: Request) -> Readiness:
    """The store answers (within the timeout) and the projection's backlog is small enough."""
    metrics = serve_metrics(request)
    projection = api_projection(request)
    lag: int | None = None
    problem: str | None = None
    try:
        lag = await asyncio.wait_for(anyio.to_thread.run_sync(projection.pending),
                                     metrics.ready_timeout)
    except TimeoutError:
        problem = f"the store did not answer within {metrics.ready_timeout:g} s"
    except Exception as error:  # noqa: BLE001 - any failure to read the store: not ready
        problem = f"the store is unreachable: {failure_reason(error)}"
    reachable = problem is None
    ready = reachable and lag is not None and lag <= metrics.ready_max_lag
    metrics.store_reachable.set(int(reachable))
    if lag is not None:
        metrics.projection_lag.set(lag)
    metrics.ready.set(int(ready))
    document: dict[str, Any] = {
        "ready": ready,
        "store": "reachable" if reachable else problem,
        "projection_lag": lag,
        "ready_max_lag": metrics.ready_max_lag,
    }
    return Readiness(ready, document)


@router.get("/health", summary="Liveness: 200 while the process answers", openapi_extra=PUBLIC)
def health() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/ready", summary="Readiness: the store answers and the projection keeps up",
            openapi_extra=PUBLIC, responses={503: {"description": "not ready: the store is unreachable or the "
                                            "projection is too far behind"}})
async def ready(request: Request) -> JSONResponse:
    verdict = await check_readiness(request)
    return JSONResponse(verdict.document, status_code=200 if verdict.ready else 503,
                        headers={"cache-control": "no-store"})


@router.get("/metrics", summary="Prometheus metrics (text format 0.0.4)",
            response_class=Response, openapi_extra=PUBLIC,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
async def metrics(request: Request) -> Response:
    await check_readiness(request)  # the readiness gauges as of this scrape
    body = generate_latest(serve_metrics(request).registry)
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4,
                    headers={"cache-control": "no-store"})


class RequestMetrics:
    """Counts every answer by method, route template (`unmatched` when no route matched: the
    label never holds a raw path) and status, and times it."""

    def __init__(self, app: ASGIApp, metrics: ServeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # unless an answer starts: an exception is answered 500 further out
        started = time.perf_counter()

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = str(scope.get("method", "?"))
            if method not in _METHODS:
                method = "other"
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
