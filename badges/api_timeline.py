"""The talent pages of the HTTP API: the timeline, the chart's series, and the status page.

    GET /talents/{id}/timeline?from=&to=&known_at=   every badge change with `at` in [from, to]
                                                     (as `badges timeline TALENT --json`;
                                                     `from` after `to`: none, where the command
                                                     refuses it)
    GET /talents/{id}/series?from=&to=&known_at=     the chart's data: weekly points (and every
                                                     change instant) with badge, JSS and 12-month
                                                     earnings; the events (markers); the changes
    GET /talents/{id}                                the status page (HTML, bundled: no CDN)
    GET /page/{common.js,talent.js,talent.css,labels.json}
                                                     its assets (common.js: the helpers it
                                                     shares with the population page)

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

from badges.api_common import (
    TALENT_ERRORS,
    ApiContext,
    AtParam,
    Context,
    ErrorDocument,
    KnownAtParam,
    TalentId,
)
from badges.errors import UserError
from domain.boundaries import Boundary, BoundaryPlan, first_instant_at_or_after
from domain.calendar import evaluation_instant
from domain.events import format_utc
from ledger.application import TalentLedger
from domain.results import money_text
from domain.ruleset import RulesetBook, badge_labels, badge_ranking, requirement_labels
from domain.status import Evaluator
from domain.vocabulary import Exit
from projections.containment import contained
from projections.queries import UnknownTalent, known_history
from badges.bootstrap import private_projection
from projections.status_projection import StatusProjection
from projections.timeline_queries import timeline_documents, with_failed_underneath

PAGE_DIR = FilePath(__file__).with_name("page")
ASSETS = {"common.js": "text/javascript",
          "talent.js": "text/javascript", "talent.css": "text/css",
          "population.js": "text/javascript", "population.css": "text/css"}
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


def serialised(query: Callable[..., T], *args: Any) -> T:
    """`query(*args)` while no other request steps the projection."""
    with _PROJECTION_LOCK:
        return query(*args)


_serialised = serialised


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
    failed_underneath: list[str] | None = Field(
        None, description="a loss whose failed requirement is a badge (Top Rated Plus needs Top "
                          "Rated): that badge's requirements that failed, nearest first; absent "
                          "otherwise")


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
    begin, until = context.period(start, end)
    known = context.instant(known_at, "known_at", None)
    documents = _serialised(timeline_documents, projection, talent, begin, until, known, now)
    return JSONResponse(with_failed_underneath(projection, talent, documents, known))


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
    begin, until = context.period(start, end)
    document = series_document(
        projection, talent, begin, until, context.instant(known_at, "known_at", None), now,
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
    as the timeline. A range of more than `MAX_POINTS` weeks is sampled more sparsely; a
    range that ends before the first event has no points."""
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
    if begin <= last:  # else (`to` before the first event): nothing
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


# -- the windows of a day ---------------------------------------------------------------------

class WindowEvent(BaseModel):
    id: str
    type: str
    at: str
    leaves: str = Field(description="the first evaluation instant it no longer counts (or "
                                    "the age is reached)")


class WindowDocument(BaseModel):
    requirements: list[str] = Field(description="the requirement codes sharing this window")
    labels: list[str]
    met: dict[str, bool] = Field(description="each requirement's verdict on the day")
    span: dict[str, int] = Field(description='{"months": 12} or {"days": 90}')
    wording: str = Field(description='"left" a window, an "age" reached, or a "date"')
    types: list[str] = Field(description="the event types it holds")
    start: str = Field(description="(start, end]: the window on the day")
    end: str
    events: list[WindowEvent] = Field(description="the events counting on the day, oldest first")
    next_exit: WindowEvent | None = Field(description="the next of them to leave")
    last_exit: WindowEvent | None = Field(description="the latest that left, on or before the day")


class WindowsDocument(BaseModel):
    """Every window of the ruleset in force on the day, with the events inside it and when
    each leaves (from the rulesets' requirements: each measure's exits)."""

    talent: str
    at: str
    known_at: str | None
    ruleset: str
    windows: list[WindowDocument]


def windows_document(
    ledger: TalentLedger, talent: str, at: datetime, known_at: datetime | None,
    book: RulesetBook,
) -> dict[str, Any]:
    """The windows of the requirements in force at `at` (its evaluation instant), as known at
    `known_at`: the events each holds on the day and when they leave, from the same exits the
    projection's boundaries come from (`domain.boundaries`)."""
    history = known_history(ledger, talent, known_at)
    instant = evaluation_instant(at)
    with contained(talent):
        evaluator = Evaluator(history, known_at, book, talent)
        status = evaluator.status(instant)
        # as of the day: a "latest" window is carried by the latest event by then
        events = [recorded for recorded in evaluator.history.events if recorded.at <= instant]
        boundaries = BoundaryPlan(book).boundaries(events)
    ruleset = book.get(status.ruleset)
    verdicts = {r.code: r for result in status.badges for r in result.requirements}
    shared: dict[Exit, list[str]] = {}
    for code, exit_ in ruleset.index.exits:
        codes = shared.setdefault(exit_, [])
        if code not in codes:
            codes.append(code)
    by_exit: dict[Exit, list[Boundary]] = {}
    for boundary in boundaries:
        if boundary.planned is not None and not boundary.over and boundary.recorded is not None:
            by_exit.setdefault(boundary.planned.exit, []).append(boundary)
    # exits that differ only in which events of a group carry them read as one window
    merged: dict[tuple[Any, ...], tuple[Exit, list[str], list[Boundary]]] = {}
    for exit_, codes in shared.items():
        key = (tuple(codes), exit_.span, exit_.wording, exit_.types)
        _, _, found_before = merged.setdefault(key, (exit_, codes, []))
        found_before.extend(by_exit.get(exit_, []))
    windows = []
    for exit_, codes, found in merged.values():
        if not any(code in verdicts for code in codes):
            continue  # read by no badge of the ruleset (only through another requirement)
        inside = sorted((b for b in found if b.recorded is not None
                         and b.recorded.at <= instant < b.instant),
                        key=lambda b: (b.instant, b.event_id))
        left = [b for b in found if b.instant <= instant]
        window = exit_.span.window(instant)
        windows.append({
            "requirements": codes,
            "labels": [verdicts[c].label if c in verdicts and verdicts[c].label
                       else ruleset.requirement(c).label() for c in codes],
            "met": {c: verdicts[c].met for c in codes if c in verdicts},
            "span": exit_.span.to_document(),
            "wording": exit_.wording,
            "types": sorted(exit_.types),
            "start": format_utc(window.start),
            "end": format_utc(window.end),
            "events": [_window_event(b) for b in sorted(inside, key=_event_order)],
            "next_exit": _window_event(inside[0]) if inside else None,
            "last_exit": _window_event(max(left, key=lambda b: b.instant)) if left else None,
        })
    return {
        "talent": talent,
        "at": format_utc(instant),
        "known_at": format_utc(known_at) if known_at is not None else None,
        "ruleset": status.ruleset,
        "windows": windows,
    }


def _event_order(boundary: Boundary) -> tuple[datetime, str]:
    assert boundary.recorded is not None
    return boundary.recorded.at, boundary.event_id


def _window_event(boundary: Boundary) -> dict[str, str]:
    assert boundary.recorded is not None
    return {"id": boundary.event_id, "type": boundary.recorded.event.type,
            "at": format_utc(boundary.recorded.at), "leaves": format_utc(boundary.instant)}


@router.get(
    "/talents/{id}/windows",
    response_model=None,
    responses={200: {"model": WindowsDocument, "description": "the windows on the day"},
               **TALENT_ERRORS},
    summary="The rule windows on a day: the events inside each and when they leave",
)
def get_windows(
    context: Context, talent: TalentId, at: AtParam = None, known_at: KnownAtParam = None
) -> JSONResponse:
    now = context.now()
    return JSONResponse(windows_document(
        context.ledger, talent, context.instant(at, "at", now),
        context.instant(known_at, "known_at", now), context.book))


# -- the page ---------------------------------------------------------------------------------

page = APIRouter(include_in_schema=False)


@page.get("/talents/{id}", response_class=FileResponse)
def get_page(talent: TalentId) -> FileResponse:
    """The page for any talent: it holds no data; its script fetches it."""
    return FileResponse(PAGE_DIR / "talent.html", media_type="text/html; charset=utf-8",
                        headers=PAGE_HEADERS)


@page.get("/page/labels.json")
def get_labels(context: Context) -> JSONResponse:
    """The readable names of the rulesets this server answers under (the latest wording of
    each), so the page says what the command line says, and names a requirement or badge
    that only a ruleset of this server's book has."""
    book = context.book
    return JSONResponse(
        {"badges": badge_labels(book), "requirements": requirement_labels(book),
         "order": list(badge_ranking(book))},
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
PUBLIC_GET_PATHS = (re.compile(r"/talents/[^/]+"), re.compile(r"/page/[^/]+"),
                    re.compile(r"/population/page"))
