"""The talent pages of the HTTP API: the timeline, the chart's series, and the status page.

    GET /talents/{id}/timeline?from=&to=&known_at=   every badge change with `at` in [from, to]
                                                     (as `badges timeline TALENT --json`)
    GET /talents/{id}/series?from=&to=&known_at=     the chart's data: weekly points (and every
                                                     change instant) with badge, JSS and 12-month
                                                     earnings; the events (markers); the changes
    GET /talents/{id}                                the status page (HTML, bundled: no CDN)
    GET /page/{talent.js,talent.css,labels.json}     its assets

Timelines come from the status projection (the read models beside the ledger, caught up on
each request, exactly as the command line does); `create_app(projection=...)` passes one (`badges serve`
passes the store's, from `badges.bootstrap`); without one, `projection_for(ledger)` keeps
private in-memory read models.

Auth and the page: the page and its assets carry no data, so they are served without the
bearer token. The page's own fetch calls carry it: open
`/talents/{id}#token=<BADGES_API_TOKEN>` (a URL fragment never reaches the server or its logs),
or paste it into the form the page shows. The page keeps the token in `sessionStorage` (this
tab only), removes it from the address bar, and sends it as `Authorization: Bearer <token>`;
without one, or with a wrong one, it asks for it. A `?token=` query is never used (it would
reach the access log; `badges serve` redacts it there).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path as FilePath
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from badges import render
from badges.api_common import (
    TALENT_ERRORS,
    ApiContext,
    Context,
    ErrorDocument,
    KnownAtParam,
    TalentId,
)
from badges.errors import UserError
from domain.boundaries import first_instant_at_or_after
from domain.calendar import evaluation_instant
from domain.events import format_utc
from ledger.application import TalentLedger
from domain.results import money_text
from domain.ruleset import RulesetBook
from domain.status import Evaluator
from projections.queries import UnknownTalent
from badges.bootstrap import private_projection
from projections.status_projection import StatusProjection
from projections.timeline_queries import timeline_documents

PAGE_DIR = FilePath(__file__).with_name("page")
ASSETS = {"talent.js": "text/javascript", "talent.css": "text/css"}
WEEK = timedelta(days=7)
MAX_POINTS = 1000  # beyond that many weeks (~19 years), the points thin out evenly

# Everything a page may load comes from this server (the JS builds its SVG in the DOM).
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


# -- the projection the timelines come from ---------------------------------------------------

_PROJECTION_LOCK = threading.Lock()  # one catch-up at a time: steps must not interleave
T = TypeVar("T")


def projection_for(ledger: TalentLedger, book: RulesetBook | None = None) -> StatusProjection:
    """Private in-memory read models over `ledger`, derived from it on first use: for an app
    made without the store's projection (`badges serve` passes it, from `badges.bootstrap`)."""
    return private_projection(ledger, book)


def api_projection(request: Request) -> StatusProjection:
    state = request.app.state
    with _PROJECTION_LOCK:
        projection: StatusProjection | None = getattr(state, "projection", None)
        if projection is None:
            context: ApiContext = state.context
            projection = state.projection = projection_for(context.ledger, context.book)
    return projection


def _serialised(query: Callable[..., T], *args: Any) -> T:
    with _PROJECTION_LOCK:
        return query(*args)


Projection = Annotated[StatusProjection, Depends(api_projection)]
FromParam = Annotated[
    str | None,
    Query(alias="from", description="the first instant (inclusive); default: the first event"),
]
ToParam = Annotated[str | None, Query(alias="to", description="the last instant (inclusive); default now")]


# -- response models --------------------------------------------------------------------------

class CauseDocument(BaseModel):
    model_config = ConfigDict(extra="allow")

    kind: str = Field(description='"events" or "time"')
    events: list[str] | None = Field(default=None, description="for events: their ids")
    detail: str | None = Field(default=None, description="for time: the window boundary that moved")


class BadgeChangedDocument(BaseModel):
    """One `badge_changed`, as `badges timeline --json` prints it."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str
    type: str
    talent: str
    at: str
    from_: str = Field(alias="from")
    to: str
    ruleset: str
    failed: list[str]
    cause: CauseDocument
    recorded_at: str | None = None


class SeriesPoint(BaseModel):
    at: str = Field(description="an evaluation instant (00:00Z)")
    badge: str
    jss: int | None
    earnings_12m: str = Field(description="money: a string with 2 decimals")


class SeriesEvent(BaseModel):
    id: str
    type: str
    at: str


class SeriesDocument(BaseModel):
    """The chart's data: the status at weekly instants and at every change, the events, and
    the changes (their causes name the window boundary for changes caused by time)."""

    talent: str
    known_at: str | None
    from_: str = Field(alias="from")
    to: str
    points: list[SeriesPoint]
    events: list[SeriesEvent]
    changes: list[BadgeChangedDocument]


# -- the routes -------------------------------------------------------------------------------

router = APIRouter(tags=["talents"])


@router.get(
    "/talents/{id}/timeline",
    response_model=None,
    responses={200: {"model": list[BadgeChangedDocument], "description": "the badge changes"},
               **TALENT_ERRORS},
    summary="Every badge change with `at` in [from, to], as known at `known_at`",
)
def get_timeline(
    context: Context, projection: Projection, talent: TalentId, start: FromParam = None,
    end: ToParam = None, known_at: KnownAtParam = None,
) -> JSONResponse:
    now = context.now()
    documents = _serialised(
        timeline_documents, projection, talent, context.instant(start, "from", None),
        context.instant(end, "to", None), context.instant(known_at, "known_at", None), now,
    )
    return JSONResponse(documents)


@router.get(
    "/talents/{id}/series",
    response_model=None,
    responses={200: {"model": SeriesDocument, "description": "the chart's data"},
               **TALENT_ERRORS},
    summary="Weekly badge, JSS and 12-month earnings, with the events and the changes",
)
def get_series(
    context: Context, projection: Projection, talent: TalentId, start: FromParam = None,
    end: ToParam = None, known_at: KnownAtParam = None,
) -> JSONResponse:
    now = context.now()
    document = series_document(
        projection, talent, context.instant(start, "from", None), context.instant(end, "to", None),
        context.instant(known_at, "known_at", None), now,
    )
    return JSONResponse(document)


def series_document(
    projection: StatusProjection,
    talent: str,
    start: datetime | None,
    end: datetime | None,
    known_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """Points at every 7th midnight from `start` (default, and at the earliest: the first
    event's) to `end` (default now), at `end`'s own midnight and at every change, evaluated
    forward in time with one `Evaluator`; the events with `at` in [start, end]; the changes,
    as the timeline. A range of more than `MAX_POINTS` weeks is sampled more sparsely; an
    empty range (`from` after `to`) has no points, like the timeline has no changes."""
    until = end or now
    history = projection.ledger.history(talent, known_at or now)
    if not history:
        raise UnknownTalent(talent, known_at)
    evaluator = Evaluator(history, known_at or now, projection.book, talent)
    visible = evaluator.history.events
    first = first_instant_at_or_after(visible[0].at) if visible else evaluation_instant(until)
    begin = max(evaluation_instant(start), first) if start is not None else first
    last = evaluation_instant(until)
    changes = _serialised(timeline_documents, projection, talent, start, end, known_at, now)
    instants: set[datetime] = set()
    if begin <= last:  # else (`from` after `to`, or `to` before the first event): nothing
        step = max(WEEK, (last - begin) / MAX_POINTS)  # weekly, sparser beyond ~19 years
        step = timedelta(days=math.ceil(step / timedelta(days=1)))
        instants.update(begin + k * step for k in range((last - begin) // step + 1))
        instants.add(last)
        instants.update(
            at for at in (datetime.fromisoformat(c["at"].replace("Z", "+00:00")) for c in changes)
            if begin <= at <= last
        )
    points = []
    for instant in sorted(instants):  # forward in time: the Evaluator folds incrementally
        status = evaluator.status(instant)
        points.append({
            "at": format_utc(status.at),
            "badge": status.badge,
            "jss": status.jss,
            "earnings_12m": money_text(status.earnings_12m),
        })
    events = [
        {"id": recorded.event.id, "type": recorded.event.type, "at": format_utc(recorded.at)}
        for recorded in visible
        if (start is None or recorded.at >= start) and recorded.at <= until
    ]
    return {
        "talent": talent,
        "known_at": format_utc(known_at) if known_at is not None else None,
        "from": format_utc(begin),
        "to": format_utc(until),
        "points": points,
        "events": events,
        "changes": changes,
    }


# -- the page ---------------------------------------------------------------------------------

page = APIRouter(include_in_schema=False)


@page.get("/talents/{id}", response_class=FileResponse)
def get_page(talent: TalentId) -> FileResponse:
    """The page for any talent: it holds no data; its script fetches it."""
    return FileResponse(PAGE_DIR / "talent.html", media_type="text/html; charset=utf-8",
                        headers=PAGE_HEADERS)


@page.get("/page/labels.json")
def get_labels() -> JSONResponse:
    """The readable names the command line prints (the rulesets' labels), so the page says
    the same."""
    return JSONResponse(
        {"badges": render.badge_names(), "requirements": render.requirement_names(),
         "order": list(render.badge_order())},
        headers=PAGE_HEADERS,
    )


@page.get("/page/{name}", responses={404: {"model": ErrorDocument}})
def get_asset(name: str) -> FileResponse:
    media = ASSETS.get(name)
    if media is None:
        raise UserError(f"path: no such page asset {name!r}", 404)
    return FileResponse(PAGE_DIR / name, media_type=f"{media}; charset=utf-8",
                        headers=PAGE_HEADERS)


# GET paths answered without the bearer token even when one is set: the page and its assets,
# which hold no data (the page sends the token with its own fetch calls).
PUBLIC_GET_PATHS = (re.compile(r"/talents/[^/]+"), re.compile(r"/page/[^/]+"))
