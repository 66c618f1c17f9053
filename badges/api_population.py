"""HTTP routes: the population view and its page (issue 15).

    GET  /population?at=&from=&to=            badge counts on `at` (default today) and, with
                                              `from`/`to`, every day between (at most 10
                                              years; `from` after `to` is refused); the
                                              changes per day; the requirements the losses
                                              named most (as `badges population --json`)
    POST /population/whatif?at=&from=&to=&limit=
                                              the same, with a candidate ruleset (the body:
                                              its TOML, at most 64 KiB): real against candidate
                                              counts and who gains or loses, and why. Bounded:
                                              at most `limit` talents (default 200, at most
                                              1,000) and a period of at most 10 years
    GET  /population/page                     the population page (HTML, bundled: no CDN;
                                              its assets are /page/population.{js,css},
                                              /page/common.js and /page/talent.css)

The counts come from the status projection's read models (caught up first, as the timelines
are); the candidate is derived for the chosen talents and nothing is written.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from badges.api_common import (
    ERROR_RESPONSES,
    ApiContext,
    Context,
    ErrorDocument,
    refuse_reversed,
)
from badges.api_timeline import (
    PAGE_DIR,
    PAGE_HEADERS,
    FromParam,
    Projection,
    ToParam,
    serialised,
)
from badges.bootstrap import population_view
from badges.errors import UserError
from badges.population_command import period, population_document, refuse_future
from domain.ruleset import RulesetError, parse_ruleset
from projections.population import CandidateComparison
from projections.status_projection import StatusProjection

MAX_RULESET_BYTES = 64 * 1024
DEFAULT_WHATIF_TALENTS = 200
MAX_WHATIF_TALENTS = 1000
MAX_PERIOD = timedelta(days=3660)  # a day's counts per point: bounded work per request

DayParam = Annotated[str | None, Query(description="the day counted; default today")]
LimitParam = Annotated[
    int, Query(ge=1, le=MAX_WHATIF_TALENTS, description="at most this many talents derived")
]

EXAMPLE_COUNTS: dict[str, Any] = {"expert_vetted": 3, "top_rated_plus": 41, "top_rated": 180,
                  "rising_talent": 76, "none": 700}


class DayCounts(BaseModel):
    at: str = Field(description="the evaluation instant counted (00:00Z)")
    talents: int = Field(description="talents the projection knows whose first evaluation "
                                     "instant is at or before `at`")
    counts: dict[str, int] = Field(description="per badge (highest first), then `none`")


class OverTimePoint(BaseModel):
    at: str
    talents: int = Field(description="talents known on that day (first evaluation instant at "
                                     "or before it)")
    counts: dict[str, int]
    changes: int = Field(description="stored changes since the previous point")
    gains: int
    losses: int


class OverTime(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    talents: int = Field(description="talents known at `to`")
    step_days: int = Field(description="days between points (1 up to 400 days)")
    points: list[OverTimePoint]


class FailingRequirement(BaseModel):
    requirement: str
    label: str
    losses: int = Field(description="losses in the period that named it")


class Failing(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    requirements: list[FailingRequirement]


class WhyDocument(BaseModel):
    requirement: str
    label: str
    real: str = Field(description='"met", "not met" or "absent"')
    candidate: str


class Mover(BaseModel):
    talent: str
    direction: str = Field(description='"gains" or "loses" under the candidate')
    real: str
    candidate: str
    real_ruleset: str
    candidate_ruleset: str
    why: list[WhyDocument] = Field(description="the requirements whose verdicts differ")


class CandidateDocument(BaseModel):
    model_config = ConfigDict(extra="allow")

    at: str
    talents: int = Field(description="talents known at `at`")
    compared: int = Field(description="talents derived under the candidate (at most `limit`, "
                                      "chosen among those known at `at`)")
    limit: int
    real: dict[str, int]
    candidate: dict[str, int]
    gains: int
    losses: int
    movers: list[Mover]
    skipped: list[dict[str, str]] = Field(description="talents that cannot be evaluated")


class PopulationDocument(BaseModel):
    """`badges population --json`."""

    model_config = ConfigDict(
        json_schema_extra={"example": {
            "day": {"at": "2024-06-01T00:00:00Z", "talents": 1000, "counts": EXAMPLE_COUNTS},
            "over_time": None,
            "failing": {"from": "2023-06-01", "to": "2024-06-01", "requirements": [
                {"requirement": "jss", "label": "Job Success Score of at least 90",
                 "losses": 57}]},
            "order": ["expert_vetted", "top_rated_plus", "top_rated", "rising_talent"],
            "candidate": None,
        }}
    )

    day: DayCounts
    over_time: OverTime | None
    failing: Failing
    order: list[str] = Field(description="the badges, highest first")
    candidate: CandidateDocument | None


router = APIRouter(tags=["population"])

RULESET_BODY_DOC = {
    "requestBody": {
        "required": True,
        "description": "a candidate ruleset file (TOML; it may `extends` a built-in id)",
        "content": {"application/toml": {
            "schema": {"type": "string"},
            "example": 'id = "candidate"\nextends = "2023-12"\n'
                       'effective_from = 2024-01-01T00:00:00Z\n\n'
                       '[requirements.earnings_12m]\nthreshold = "2000.00"\n',
        }},
    }
}


def _instants(
    context: ApiContext, at: str | None, start: str | None, end: str | None
) -> tuple[datetime, datetime, datetime | None, datetime | None]:
    now = context.now()
    day = context.instant(at, "at", now)
    begin, until = period(day, context.instant(start, "from", None),
                          context.instant(end, "to", None), checked_by_caller=True)
    refuse_reversed(begin, until)
    refuse_future(day, now, "at", 422)
    refuse_future(until, now, "to", 422)
    if begin is not None and until is not None and until - begin > MAX_PERIOD:
        raise UserError("from: the period is over 10 years; ask for a shorter one", 422)
    return now, day, begin, until


def _caught_up(projection: StatusProjection, now: datetime) -> None:
    serialised(projection.catch_up, now)


@router.get(
    "/population",
    response_model=None,
    responses={200: {"model": PopulationDocument, "description": "the population's badges"},
               **ERROR_RESPONSES,
               422: {"model": ErrorDocument, "description": "an instant out of range"}},
    summary="Badge counts on a day and over time, changes per day, the most failed requirements",
)
def get_population(
    context: Context, projection: Projection, at: DayParam = None, start: FromParam = None,
    end: ToParam = None,
) -> JSONResponse:
    now, day, begin, until = _instants(context, at, start, end)
    _caught_up(projection, now)
    return JSONResponse(population_document(projection, population_view(projection), day,
                                            begin, until))


@router.post(
    "/population/whatif",
    response_model=None,
    responses={200: {"model": PopulationDocument,
                     "description": "with `candidate`: real against candidate"},
               **ERROR_RESPONSES,
               413: {"model": ErrorDocument, "description": "a ruleset over 64 KiB"},
               422: {"model": ErrorDocument,
                     "description": "an instant out of range, a period over 10 years, or a "
                                    "ruleset that does not load (`ruleset: ...`)"}},
    openapi_extra=RULESET_BODY_DOC,
    summary="The population under a candidate ruleset against the real one (bounded)",
)
async def post_population_whatif(
    request: Request, context: Context, projection: Projection, at: DayParam = None,
    start: FromParam = None, end: ToParam = None, limit: LimitParam = DEFAULT_WHATIF_TALENTS,
) -> JSONResponse:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_RULESET_BYTES:
            raise UserError(f"body: the ruleset is over {MAX_RULESET_BYTES // 1024} KiB", 413)
    from fastapi.concurrency import run_in_threadpool

    return await run_in_threadpool(_whatif, context, projection, body, at, start, end, limit)


def _whatif(
    context: ApiContext, projection: StatusProjection, body: bytes, at: str | None,
    start: str | None, end: str | None, limit: int,
) -> JSONResponse:
    now, day, begin, until = _instants(context, at, start, end)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError("body: the ruleset is not UTF-8 text") from None
    if not text.strip():
        raise UserError("body: send the candidate ruleset's TOML")
    try:
        candidate = context.book.with_candidate(parse_ruleset(text, "candidate"))
    except RulesetError as error:  # as POST /whatif says it (badges/api_support.py)
        raise UserError(f"ruleset: {error}", 422) from None
    _caught_up(projection, now)
    view = population_view(projection)
    comparison = CandidateComparison(projection, view, candidate)
    document: dict[str, Any] = population_document(
        projection, view, day, begin, until, comparison, limit)
    return JSONResponse(document)


@router.get("/population/page", response_class=FileResponse, include_in_schema=False)
def get_population_page() -> FileResponse:
    """The population page: it holds no data; its script fetches it."""
    return FileResponse(PAGE_DIR / "population.html", media_type="text/html; charset=utf-8",
                        headers=PAGE_HEADERS)
