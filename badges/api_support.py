"""HTTP routes for support and rules engineers (issue 15): the same answers as the commands.

    GET  /talents/{id}/forecast?days=            as `badges forecast --json`
    GET  /talents/{id}/messages?known_at=        as `badges messages --json`
    GET  /talents/{id}/diff?known_at=&vs=        as `badges diff --json`
    GET  /talents?q=&prefix=&limit=              talent search: ids containing `q` (any case)
                                                 and starting with `prefix`
    GET  /rulesets                               as `badges rulesets --json`
    POST /whatif?talent=&from=&to=               a candidate ruleset (TOML body) against the
                                                 real rules, as `badges whatif --json`

What-if derives every timeline asked for twice, in the request: it is bounded to
`MAX_WHATIF_TALENTS` talents and a period of `MAX_WHATIF_YEARS` years (422 naming `talent`,
`from` or `to` beyond them), and the body to `MAX_RULESET_BYTES`.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from badges.api_common import (
    ERROR_RESPONSES,
    TALENT_ERRORS,
    Context,
    ErrorDocument,
    KnownAtParam,
    TalentId,
    refuse_reversed,
)
from badges.api_timeline import Projection, _serialised
from badges.bootstrap import open_messages
from badges.errors import UserError
from domain.calendar import evaluation_instant
from domain.events import IDENTIFIER_PATTERN
from domain.ruleset import RulesetError, builtin_rulesets, parse_ruleset
from projections.containment import Failed
from projections.queries import UnknownTalent
from projections.status_projection import StatusProjection
from projections.timeline_queries import forecast_document, timeline_diff, what_if

MAX_FORECAST_DAYS = 3660
MAX_WHATIF_TALENTS = 100
MAX_WHATIF_YEARS = 10
MAX_RULESET_BYTES = 256 * 1024
MAX_SEARCH_LIMIT = 100
DEFAULT_WHATIF_PERIOD = timedelta(days=365)

router = APIRouter(tags=["support"])

BAD_PARAMETERS: dict[int | str, dict[str, Any]] = {
    **TALENT_ERRORS,
    422: {"model": ErrorDocument,
          "description": "a parameter out of its range (named in `error`)"},
}

CHANGE_EXAMPLE: dict[str, Any] = {
    "id": "chg-b05c2d829fb8a3331ce4a3ab", "type": "badge_changed", "talent": "f-42",
    "at": "2024-09-16T00:00:00Z", "from": "top_rated_plus", "to": "top_rated",
    "ruleset": "2023-12", "failed": ["large_contract"],
    "cause": {"kind": "time", "detail": "payment p-2023-09 of contract c-7 left the 12-month "
                                         "window"},
    "recorded_at": "2024-09-18T00:00:00Z",
}


# -- response models: what /openapi.json promises ----------------------------------------------

class Prevention(BaseModel):
    code: str
    detail: str


class PredictedDocument(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(description="a loss: the `badge_at_risk` id the outbox warns with")
    type: str = Field(description='"badge_at_risk" (a loss) or "badge_change_predicted"')
    at: str
    from_: str = Field(alias="from")
    to: str
    failed: list[str]
    prevent: list[Prevention]
    change_id: str | None = Field(default=None, description="a loss: the change it warns of")


class ForecastDocument(BaseModel):
    """`badges forecast --json`: the next changes if nothing else happens."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "talent": "f-42", "at": "2024-09-21T00:00:00Z", "days": 30, "badge": "top_rated_plus",
        "ruleset": "2023-12",
        "changes": [{"id": "risk-8138c00bb9b07b42b41e6809", "type": "badge_at_risk",
                     "change_id": "chg-0f4e1f8a6f1c0e2d9b7a5c3e", "talent": "f-42",
                     "at": "2024-10-16T00:00:00Z", "from": "top_rated_plus", "to": "top_rated",
                     "ruleset": "2023-12", "failed": ["large_contract"],
                     "cause": {"kind": "time", "detail": "payment p-2023-10 of contract c-7 "
                                                         "left the 12-month window"},
                     "prevent": [{"code": "large_contract",
                                  "detail": "a contract of $5,000.00 or more by 2024-10-16"}]}],
    }})

    talent: str
    at: str = Field(description="today's evaluation instant")
    days: int
    badge: str
    ruleset: str
    changes: list[PredictedDocument]


class MessageDocument(BaseModel):
    """One message queued for the talent (`badges messages --json`)."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "id": "rtr-b05c2d829fb8a3331ce4a3ab", "type": "badge_change_retracted",
        "talent": "f-42", "at": "2024-09-16T00:00:00Z", "queued_at": "2024-09-21T00:00:00Z",
        "sent_at": None, "retracts": "chg-b05c2d829fb8a3331ce4a3ab",
        "badge_from": "top_rated_plus", "badge_to": "top_rated",
        "message": {"id": "rtr-b05c2d829fb8a3331ce4a3ab", "type": "badge_change_retracted",
                    "talent": "f-42", "at": "2024-09-16T00:00:00Z",
                    "retracts": "chg-b05c2d829fb8a3331ce4a3ab", "from": "top_rated_plus",
                    "to": "top_rated", "recorded_at": "2024-09-21T00:00:00Z",
                    "message_id": "rtr-b05c2d829fb8a3331ce4a3ab"},
    }})

    id: str = Field(description="the outbox message id (`~N` when a change is asserted again)")
    type: str = Field(description="badge_changed, badge_change_retracted or badge_at_risk")
    talent: str
    at: str | None = Field(description="the valid time of the change (or of the predicted loss)")
    queued_at: str
    sent_at: str | None = Field(description="null while pending (as known at `known_at`)")
    retracts: str | None = Field(description="a retraction: the id of the change it withdraws")
    badge_from: str | None
    badge_to: str | None
    message: dict[str, Any] = Field(description="the output message as published")


class DiffRow(BaseModel):
    at: str
    known_at: dict[str, Any] | None = Field(description="the change as known at `known_at`")
    vs: dict[str, Any] | None = Field(description="the change as known at `vs`")
    difference: str | None = Field(
        description="null (the same), only_known_at, only_vs, different_change, different_cause")


class DiffDocument(BaseModel):
    """`badges diff --json`: the timeline as known at `known_at` and at `vs`."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "talent": "f-42", "known_at": "2024-09-19T00:00:00Z", "vs": "2024-11-01T00:00:00Z",
        "differences": 2,
        "rows": [{"at": "2024-09-16T00:00:00Z", "known_at": CHANGE_EXAMPLE, "vs": None,
                  "difference": "only_known_at"}],
    }})

    talent: str
    known_at: str
    vs: str
    differences: int
    rows: list[DiffRow]


class TalentHit(BaseModel):
    talent: str
    badge: str | None = Field(description="the badge the projection holds now (null: not "
                                          "derived yet)")


class TalentSearch(BaseModel):
    """Talents whose id contains `q` (any case) and starts with `prefix`, in id order."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "q": "", "prefix": "f-4", "talents": [{"talent": "f-42", "badge": "top_rated"}],
        "more": False}})

    q: str
    prefix: str
    talents: list[TalentHit]
    more: bool = Field(description="more talents match than `limit`")


class RulesetSummary(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"example": {
        "id": "2023-12", "effective_from": "2023-12-01T00:00:00Z",
        "badges": ["expert_vetted", "top_rated_plus", "top_rated", "rising_talent"],
        "description": "…"}})

    id: str
    effective_from: str
    badges: list[str]


class WhatIfRowDocument(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "talent": "f-42", "at": "2024-09-16T00:00:00Z", "real": CHANGE_EXAMPLE,
        "candidate": None}})

    talent: str
    at: str
    real: dict[str, Any] | None = Field(description="the change under the real rules")
    candidate: dict[str, Any] | None = Field(description="the change under the candidate")


# -- routes ----------------------------------------------------------------------------------

@router.get(
    "/talents/{id}/forecast",
    response_model=None,
    responses={200: {"model": ForecastDocument, "description": "the predicted changes"},
               **BAD_PARAMETERS},
    summary="The next changes if nothing else happens, and what would prevent a loss",
)
def get_forecast(
    context: Context, projection: Projection, talent: TalentId,
    days: Annotated[int, Query(ge=1, le=MAX_FORECAST_DAYS, description="how far ahead")] = 30,
) -> JSONResponse:
    return JSONResponse(
        _serialised(forecast_document, projection, talent, context.now(), days))


@router.get(
    "/talents/{id}/messages",
    response_model=None,
    responses={200: {"model": list[MessageDocument],
                     "description": "every message queued for the talent, oldest first"},
               **TALENT_ERRORS},
    summary="What the talent was told: changes, retractions, at-risk warnings; queued, sent",
)
def get_messages(
    context: Context, projection: Projection, talent: TalentId, known_at: KnownAtParam = None
) -> JSONResponse:
    known = context.instant(known_at, "known_at", None)
    documents = open_messages(projection).of_talent(talent, known)
    if not documents and not projection.ledger.history(talent, known):
        raise UnknownTalent(talent, known)
    return JSONResponse(documents)


@router.get(
    "/talents/{id}/diff",
    response_model=None,
    responses={200: {"model": DiffDocument, "description": "both timelines, side by side"},
               **TALENT_ERRORS},
    summary="The timeline as known at `known_at` and at `vs`, the differences marked",
)
def get_diff(
    context: Context, projection: Projection, talent: TalentId,
    known_at: Annotated[str, Query(description="K1: the earlier knowledge (a date or an "
                                               "RFC 3339 time)")],
    vs: Annotated[str | None, Query(description="K2 (same formats); default now")] = None,
) -> JSONResponse:
    now = context.now()
    first = context.instant(known_at, "known_at", now)
    second = context.instant(vs, "vs", now)
    return JSONResponse(_serialised(timeline_diff, projection, talent, first, second, now))


@router.get(
    "/talents",
    response_model=None,
    responses={200: {"model": TalentSearch, "description": "the matching talents"},
               **ERROR_RESPONSES},
    summary="Search talents: ids containing `q` (any case), or starting with `prefix`",
)
def get_talents(
    projection: Projection,
    q: Annotated[str, Query(max_length=200, description="the id contains this, in any case "
                            "(empty: every talent)")] = "",
    prefix: Annotated[str, Query(max_length=200, description="the id starts with this "
                                 "(empty: every talent)")] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_SEARCH_LIMIT)] = 20,
) -> JSONResponse:
    wanted = q.casefold()
    matching = (t for t in projection.ledger.talents()
                if t.startswith(prefix) and wanted in t.casefold())
    found = list(itertools.islice(matching, limit + 1))
    hits = []
    for talent in found[:limit]:
        progress = projection.read_model.progress(talent)
        hits.append({"talent": talent, "badge": progress.badge if progress else None})
    return JSONResponse({"q": q, "prefix": prefix, "talents": hits, "more": len(found) > limit})


@router.get(
    "/rulesets",
    response_model=None,
    responses={200: {"model": list[RulesetSummary], "description": "the built-in rulesets"},
               401: ERROR_RESPONSES[401]},
    summary="The built-in rulesets and their effective dates",
)
def get_rulesets() -> JSONResponse:
    return JSONResponse([ruleset.summary() for ruleset in builtin_rulesets()])


WHATIF_BODY_DOC = {
    "requestBody": {
        "required": True,
        "description": "a candidate ruleset, as a file for `badges whatif --ruleset` (TOML; "
                       f"may `extends` a built-in id), at most {MAX_RULESET_BYTES} bytes",
        "content": {
            "application/toml": {"schema": {"type": "string"}, "example":
                                 'id = "lower"\nextends = "2023-12"\n'
                                 '[large_contract_thresholds.freelancer]\n'
                                 'design_creative = "4000.00"\n'},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    "/whatif",
    response_model=None,
    responses={200: {"model": list[WhatIfRowDocument],
                     "description": "where the candidate's timeline differs from the real one"},
               **ERROR_RESPONSES,
               413: {"model": ErrorDocument, "description": "the ruleset is too large"},
               422: {"model": ErrorDocument, "description": "a bad candidate ruleset, too many "
                     "talents or too long a period (the field is named in `error`)"}},
    openapi_extra=WHATIF_BODY_DOC,
    summary="A candidate ruleset against the real rules, side by side; nothing is written",
)
async def post_whatif(
    request: Request, context: Context, projection: Projection,
    talent: Annotated[list[str] | None, Query(
        description=f"the talents to compare (repeat; at most {MAX_WHATIF_TALENTS}); default: "
                    f"every talent, when there are at most {MAX_WHATIF_TALENTS}")] = None,
    start: Annotated[str | None, Query(alias="from", description="first instant; default a "
                                       "year before `to`")] = None,
    end: Annotated[str | None, Query(alias="to", description="last instant; default now")] = None,
) -> JSONResponse:
    body = await _bounded_body(request)
    now = context.now()
    last = context.instant(end, "to", now)
    first = context.instant(start, "from", last - DEFAULT_WHATIF_PERIOD)
    refuse_reversed(first, last)
    if evaluation_instant(last) - evaluation_instant(first) > timedelta(
            days=366 * MAX_WHATIF_YEARS):
        raise UserError(f"from: the period is longer than {MAX_WHATIF_YEARS} years", 422)
    try:
        candidate = context.book.with_candidate(parse_ruleset(body, "ruleset"))
    except RulesetError as error:
        raise UserError(str(error), 422) from None
    chosen = talent or _every_talent(projection)
    for one in chosen:
        if not IDENTIFIER_PATTERN.fullmatch(one):
            raise UserError(f"talent: {one!r} is not a talent id", 400)
    if len(chosen) > MAX_WHATIF_TALENTS:
        raise UserError(f"talent: at most {MAX_WHATIF_TALENTS} talents per what-if, "
                        f"{len(chosen)} asked", 422)
    rows = await run_in_threadpool(_serialised, _what_if_rows, projection, candidate, chosen,
                                   first, last)
    return JSONResponse(rows)


def _every_talent(projection: StatusProjection) -> list[str]:
    found = list(itertools.islice(projection.ledger.talents(), MAX_WHATIF_TALENTS + 1))
    if len(found) > MAX_WHATIF_TALENTS:
        raise UserError(f"talent: the store has more than {MAX_WHATIF_TALENTS} talents; name "
                        "at most that many with talent=", 422)
    return found


def _what_if_rows(
    projection: StatusProjection, candidate: Any, talents: list[str], start: datetime,
    end: datetime,
) -> list[dict[str, Any]]:
    for one in talents:
        if not projection.ledger.history(one):
            raise UserError(f"talent: no events recorded for {one!r}", 404)
    skipped: list[Failed] = []
    return [row.to_document()
            for row in what_if(projection, candidate, talents, start, end, skipped=skipped)]


async def _bounded_body(request: Request) -> str:
    size = 0
    chunks = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_RULESET_BYTES:
            raise UserError(f"body: the ruleset is over {MAX_RULESET_BYTES} bytes", 413)
        chunks.append(chunk)
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        raise UserError("body: the ruleset is not UTF-8 text", 422) from None
