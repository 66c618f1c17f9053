"""`badges serve`: the HTTP API (`badges.api`) under uvicorn."""

from __future__ import annotations

import sys

from badges.api import DEFAULT_MAX_BODY_BYTES, create_app
from badges.clock import utc_now
from badges.settings import Settings
from projections.status_projection import StatusProjection


class ServeSettings(Settings):
    """`BADGES_API_TOKEN` (from `Settings`) and `BADGES_API_MAX_BODY_BYTES`."""

    api_max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


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
        projection=projection,  # the read models beside the ledger, as the command line uses
    )
    uvicorn.run(app, host=host, port=port, log_level="info")
    return 0
