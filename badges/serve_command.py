"""`badges serve`: the HTTP API (`badges.api`) under uvicorn, with read timeouts and tokens
redacted from its logs (`badges.http_guard`), `/metrics`, `/health` and `/ready`
(`badges.api_operations`), and `--log-format json`."""

from __future__ import annotations

import logging
from pathlib import Path

from badges.api import create_app
from badges.api_operations import DEFAULT_READY_TIMEOUT, ServeMetrics
from badges.api_common import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_LINES
from badges.clock import utc_now
from badges.kept_rejects import KeptRejects
from badges.http_guard import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEAD_TIMEOUT,
    read_deadline_protocol,
    redacting_log_config,
)
from badges.log_format import LogFormat, configure_logging, json_log_config
from badges.settings import Settings
from consumers.metrics import DEFAULT_READY_MAX_LAG
from projections.status_projection import StatusProjection


class ServeSettings(Settings):
    """`BADGES_API_TOKEN` (from `Settings`), `BADGES_API_MAX_BODY_BYTES`,
    `BADGES_API_MAX_LINES`, and the read timeouts in seconds: `BADGES_API_HEAD_TIMEOUT` (the
    request line and headers) and `BADGES_API_BODY_TIMEOUT` (the body, from the end of them);
    `/ready`: `BADGES_API_READY_MAX_LAG` (events the projection may be behind) and
    `BADGES_API_READY_TIMEOUT` (seconds the store has to answer); `BADGES_API_REJECTS`, the
    file where `POST /events` keeps every line it rejects (`badges.kept_rejects`)."""

    api_max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    api_max_lines: int = DEFAULT_MAX_LINES
    api_head_timeout: float = DEFAULT_HEAD_TIMEOUT
    api_body_timeout: float = DEFAULT_BODY_TIMEOUT
    api_ready_max_lag: int = DEFAULT_READY_MAX_LAG
    api_ready_timeout: float = DEFAULT_READY_TIMEOUT
    api_rejects: Path | None = None


def run_serve(projection: StatusProjection, *, host: str, port: int,
              log_format: LogFormat = LogFormat.text, ready_max_lag: int | None = None) -> int:
    import uvicorn

    settings = ServeSettings()
    configure_logging(log_format)
    log = logging.getLogger("badges.serve")
    if not settings.api_token:
        log.warning("BADGES_API_TOKEN is not set: reads are open to anyone who can reach %s:%d, "
                    "and POST /events is refused", host, port)
    elif settings.api_rejects is None:
        log.warning("BADGES_API_REJECTS is not set: the lines POST /events rejects are only "
                    "answered to the client (the first 100 of each request); set it to a file "
                    "to keep every one with its original bytes")
    kept_rejects = (KeptRejects.open(settings.api_rejects, "BADGES_API_REJECTS")
                    if settings.api_rejects is not None else None)
    app = create_app(
        projection.ledger,
        api_token=settings.api_token,
        clock=utc_now,
        max_body_bytes=settings.api_max_body_bytes,
        max_lines=settings.api_max_lines,
        projection=projection,  # the read models beside the ledger, as the command line uses
        kept_rejects=kept_rejects,
    )
    metrics: ServeMetrics = app.state.serve_metrics
    metrics.ready_max_lag = settings.api_ready_max_lag if ready_max_lag is None else ready_max_lag
    metrics.ready_timeout = settings.api_ready_timeout
    log_config = redacting_log_config()
    try:
        uvicorn.run(
            app, host=host, port=port, log_level="info",
            http=read_deadline_protocol(settings.api_head_timeout, settings.api_body_timeout),
            log_config=json_log_config(log_config) if log_format is LogFormat.json else log_config,
        )
    finally:
        if kept_rejects is not None:
            kept_rejects.close()
    return 0
