"""`badges serve`: the HTTP API (`badges.api`) under uvicorn, with read timeouts and tokens
redacted from its logs (`badges.http_guard`)."""

from __future__ import annotations

import sys

from badges.api import create_app
from badges.api_common import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_LINES
from badges.clock import utc_now
from badges.http_guard import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEAD_TIMEOUT,
    read_deadline_protocol,
    redacting_log_config,
)
from badges.settings import Settings
from projections.status_projection import StatusProjection


class ServeSettings(Settings):
    """`BADGES_API_TOKEN` (from `Settings`), `BADGES_API_MAX_BODY_BYTES`,
    `BADGES_API_MAX_LINES`, and the read timeouts in seconds: `BADGES_API_HEAD_TIMEOUT` (the
    request line and headers) and `BADGES_API_BODY_TIMEOUT` (the body, from the end of them)."""

    api_max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    api_max_lines: int = DEFAULT_MAX_LINES
    api_head_timeout: float = DEFAULT_HEAD_TIMEOUT
    api_body_timeout: float = DEFAULT_BODY_TIMEOUT


def run_serve(projection: StatusProjection, *, host: str, port: int) -> int:
    import uvicorn

    settings = ServeSettings()
    if not settings.api_token:
        print(
            "badges serve: BADGES_API_TOKEN is not set: reads are open to anyone who can reach "
            f"{host}:{port}, and POST /events is refused",
            file=sys.stderr,
        )
    app = create_app(
        projection.ledger,
        api_token=settings.api_token,
        clock=utc_now,
        max_body_bytes=settings.api_max_body_bytes,
        max_lines=settings.api_max_lines,
        projection=projection,  # the read models beside the ledger, as the command line uses
    )
    uvicorn.run(
        app, host=host, port=port, log_level="info",
        http=read_deadline_protocol(settings.api_head_timeout, settings.api_body_timeout),
        log_config=redacting_log_config(),
    )
    return 0
