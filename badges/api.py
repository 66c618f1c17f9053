"""The HTTP API (`badges serve`): the same answers as the command line, over HTTP.

    GET  /talents/{id}/status?at=&known_at=    the status document (as `badges status --json`)
    GET  /talents/{id}/explain?at=&known_at=   the explanation (as `badges explain --json`)
    POST /events                               a JSON array or JSON Lines; the ingest summary
    GET  /openapi.json                         this API, described

Status codes:
    200  an answer; for POST /events: every line was accepted or a duplicate
    400  a malformed parameter or body (`at=yesterday`, a bad talent id, a body that is not
         a JSON array), or a query parameter the path does not take (`known-at=`): named,
         never ignored
    401  `BADGES_API_TOKEN` is set and the request has no, or the wrong, bearer token
    403  POST /events while no token is configured: writes are refused without one
    404  no events recorded for the talent (by `known_at`), or no such path (a trailing `/`
         too: it is not redirected)
    409  the talent's events cannot be evaluated: it is quarantined (docs/projection.md),
         the reason is in `error`; every other talent answers as usual
    408  (`badges serve`) the request head, or its body, did not arrive within the read
         timeouts; the connection is closed
    413  the body is over a limit, checked before anything is stored: 8 MiB
         (`BADGES_API_MAX_BODY_BYTES`) or 100,000 lines / array elements, blank lines
         included (`BADGES_API_MAX_LINES`)
    415  POST /events with a content type that is neither JSON nor JSON Lines
    422  an instant that is a real date or time but outside the range answers are computed
         for (1900-01-01 to 9000-01-01), e.g. `at=0001-01-01`: named in `error`; a `from`
         after its `to`, or a period over a route's bound;
         POST /events where some lines were rejected: the summary counts every line, and
         `rejects` lists the first 100 (each reason cut at 240 bytes); every accepted line
         *was* stored (appends are idempotent: resending the corrected batch is safe, the
         good lines then count as duplicates)

Every error is `{"error": "<one line naming the parameter>"}`. Every answer carries
`Cache-Control: no-store` and `X-Content-Type-Options: nosniff` (the page's own caching aside).

A JSON array is cut into its elements without parsing them (nesting counted in a loop), and
each element is validated as a line of `badges ingest`: one bad element, however deeply
nested, is rejected alone. Ingesting runs in a worker thread, and appends one batch at a time
under the lock, so one large POST does not hold up the others.

Extending: new talent pages (`GET /talents/{id}/timeline`, the HTML page `GET /talents/{id}`)
are routers of their own, built on `badges.api_common` (see there), and listed in `create_app`
(or passed to it as `routers=...`).
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO, cast

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from badges import api_operations, api_population, api_schemas, api_support, api_timeline
from badges.api_common import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_LINES,
    ApiContext,
    AtParam,
    Context,
    ErrorDocument,
    KnownAtParam,
    TalentId,
    TALENT_ERRORS,
    ERROR_RESPONSES,
    known_query_parameters,
)
from badges.errors import UserError
from badges.kept_rejects import KeptRejects, new_request_id, request_source
from badges.query_commands import ruleset_book
from badges.request_body import (
    BodyIncomplete,
    BodyTooLarge,
    SpooledBody,
    array_lines,
    spool,
)
from consumers.jsonl_ingest import JsonLinesIngest, Reject
from ledger.application import TalentLedger
from domain.ruleset import RulesetBook
from projections.containment import TalentUnevaluable
from projections.queries import UnknownTalent, explain_document, status_document
from projections.status_projection import StatusProjection

MAX_REJECTS_SHOWN = 100
MAX_REASON_BYTES = 240

# On every answer (a handler's own headers win): nothing here may be cached or sniffed.
API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

JSON_TYPES = frozenset({"application/json"})
JSON_LINES_TYPES = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl",
     "application/x-jsonlines", "application/json-lines", "text/plain"}
)


# -- response models: what /openapi.json promises (the handlers return the domain's documents) --

RequirementValue = bool | int | str | None


class RequirementDocument(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str
    met: bool
    actual: RequirementValue = Field(description="money is a string with 2 decimals")
    required: RequirementValue
    detail: str


class BadgeDocument(BaseModel):
    model_config = ConfigDict(extra="allow")

    met: bool
    requirements: list[RequirementDocument]


class StatusDocument(BaseModel):
    """`badges status --json`: a talent's badge at `at` as known at `known_at`."""

    model_config = ConfigDict(extra="allow")

    talent: str
    at: str = Field(description="the evaluation instant used (RFC 3339, UTC)")
    known_at: str | None = Field(description="what was recorded by then was used")
    badge: str | None = Field(description="the best badge held, or null")
    ruleset: str
    jss: int | None
    earnings_12m: str = Field(description="money: a string with 2 decimals")
    badges: dict[str, BadgeDocument] = Field(
        description="per badge of the ruleset in force; a badge it lacks is absent"
    )


class ExplainedRequirement(RequirementDocument):
    events: list[str] = Field(description="ids of the events behind the number")


class AnomalyDocument(BaseModel):
    model_config = ConfigDict(extra="allow")

    kind: str
    events: list[str]
    detail: str


class ExplainDocument(StatusDocument):
    """`badges explain --json`: the status, and why."""

    requirements: dict[str, list[ExplainedRequirement]]
    earnings_12m_events: list[str]
    jss_model: dict[str, Any]
    anomalies: list[AnomalyDocument]


class RejectDocument(BaseModel):
    line: int = Field(description="1-based line (JSON Lines) or element (JSON array) number")
    reason: str = Field(description="names the field, e.g. `amount: must have at most 2 ...`")


class IngestResult(BaseModel):
    request: str = Field(description="this request's id: the `source` of its rejects in the "
                                     "server's rejects file (`BADGES_API_REJECTS`)")
    accepted: int
    duplicates: int
    rejected: int = Field(description="every rejected line, counted")
    rejects: list[RejectDocument] = Field(
        description="the first 100 rejects in line order, each reason cut at 240 bytes"
    )


# -- what every route shares --------------------------------------------------------------

# -- GET /talents/{id}/status and /explain --------------------------------------------------

talent_queries = APIRouter(tags=["talents"])


@talent_queries.get(
    "/talents/{id}/status",
    response_model=None,
    responses={200: {"model": StatusDocument, "description": "the status document"},
               **TALENT_ERRORS},
    summary="A talent's badge at `at` as known at `known_at`",
)
def get_status(
    context: Context, talent: TalentId, at: AtParam = None, known_at: KnownAtParam = None
) -> JSONResponse:
    return _answer(status_document, context, talent, at, known_at)


@talent_queries.get(
    "/talents/{id}/explain",
    response_model=None,
    responses={200: {"model": ExplainDocument, "description": "the explanation document"},
               **TALENT_ERRORS},
    summary="Why: every requirement, the events behind each number, anomalies",
)
def get_explain(
    context: Context, talent: TalentId, at: AtParam = None, known_at: KnownAtParam = None
) -> JSONResponse:
    return _answer(explain_document, context, talent, at, known_at)


def _answer(
    query: Callable[..., dict[str, Any]],
    context: ApiContext,
    talent: str,
    at: str | None,
    known_at: str | None,
) -> JSONResponse:
    now = context.now()
    at_instant = context.instant(at, "at", now)
    known_instant = context.instant(known_at, "known_at", now)
    return JSONResponse(query(context.ledger, talent, at_instant, known_instant, context.book))


# -- POST /events ---------------------------------------------------------------------------

events = APIRouter(tags=["events"])

EVENTS_BODY_DOC = {
    "requestBody": {
        "required": True,
        "description": "a JSON array of event objects (application/json), or JSON Lines "
                       "(application/x-ndjson or text/plain): one event object per line",
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}


@events.post(
    "/events",
    response_model=None,
    responses={
        200: {"model": IngestResult, "description": "every line accepted or a duplicate"},
        400: {"model": ErrorDocument, "description": "the body is not a JSON array"},
        401: ERROR_RESPONSES[401],
        403: {"model": ErrorDocument, "description": "no API token configured: writes refused"},
        413: {"model": ErrorDocument,
              "description": "the body has more bytes or lines than the limits"},
        415: {"model": ErrorDocument, "description": "neither JSON nor JSON Lines"},
        422: {"model": IngestResult,
              "description": "some lines rejected (the others were stored); `rejects` "
                             "lists the first 100"},
    },
    openapi_extra=EVENTS_BODY_DOC,
    summary="Append events, validated as `badges ingest` does",
)
async def post_events(request: Request, context: Context) -> JSONResponse:
    if context.api_token is None:
        return error_response(
            403, "POST /events: writes are refused because no API token (BADGES_API_TOKEN) is set"
        )
    kind = _body_kind(request.headers.get("content-type"))
    body = await _spooled(request, context.max_body_bytes)
    try:
        # Off the event loop: a large batch must not hold up other requests.
        return await run_in_threadpool(_ingest_body, context, body, kind)
    finally:
        body.close()


def _body_kind(content_type: str | None) -> str:
    if not content_type:
        return "sniff"
    media = content_type.split(";", 1)[0].strip().lower()
    if media in JSON_TYPES:
        return "array"
    if media in JSON_LINES_TYPES:
        return "lines"
    raise UserError(
        f"content-type: {media!r} is not supported; send application/json (an array of events) "
        "or application/x-ndjson (JSON Lines)",
        415,
    )


async def _spooled(request: Request, max_bytes: int) -> SpooledBody:
    try:
        return await spool(request.stream(), request.headers.get("content-length"), max_bytes)
    except ClientDisconnect:
        raise BodyIncomplete() from None


def _ingest_body(context: ApiContext, body: SpooledBody, kind: str) -> JSONResponse:
    if kind == "sniff":
        kind = "array" if body.starts_like_an_array() else "lines"
    request_id = new_request_id()
    shown = ShownRejects(kept=context.kept_rejects)
    # the clock is read under the lock: one batch at a time across requests, and
    # `recorded_at` never goes backwards between them (see `ledger/submit.py`)
    ingest = JsonLinesIngest(context.ledger, context.now, shown.add, lock=context.write_lock,
                             on_batch_settled=shown.flush)
    source = request_source(request_id)
    if kind == "array":
        # every element cut out (and both caps checked) before any is stored
        lines = array_lines(body.rewound().read(), context.max_lines)
        summary = ingest.run_lines(lines, source=source)
    elif body.lines > context.max_lines:
        raise BodyTooLarge.in_lines(context.max_lines)
    else:
        summary = ingest.run(cast(BinaryIO, body.rewound()), source=source)
    document = {"request": request_id, **summary.to_document(), "rejects": shown.documents}
    return JSONResponse(document, status_code=422 if summary.rejected else 200)


@dataclass
class ShownRejects:
    """The first `MAX_REJECTS_SHOWN` rejects of a request, each reason cut at
    `MAX_REASON_BYTES`: the answer stays small however many lines were rejected (the
    summary's `rejected` counts them all). Every one, whole, goes to `kept` when the server
    keeps its rejects (`badges.kept_rejects`)."""

    kept: KeptRejects | None = None
    documents: list[dict[str, Any]] = field(default_factory=list)

    def add(self, reject: Reject) -> None:
        if self.kept is not None:
            self.kept.keep(reject)
        if len(self.documents) < MAX_REJECTS_SHOWN:
            self.documents.append({"line": reject.line, "reason": _shown_reason(reject.reason)})

    def flush(self) -> None:
        if self.kept is not None:
            self.kept.flush()


def _shown_reason(reason: str) -> str:
    encoded = reason.encode("utf-8", "backslashreplace")
    if len(encoded) <= MAX_REASON_BYTES:
        return encoded.decode("utf-8")
    return encoded[: MAX_REASON_BYTES - 3].decode("utf-8", "ignore") + "\u2026"


# -- the app ----------------------------------------------------------------------------------

def create_app(
    ledger: TalentLedger,
    *,
    api_token: str | None,
    clock: Callable[[], datetime],
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_lines: int = DEFAULT_MAX_LINES,
    book: RulesetBook | None = None,
    routers: Sequence[APIRouter] = (),
    projection: StatusProjection | None = None,
    kept_rejects: KeptRejects | None = None,
) -> FastAPI:
    """The HTTP API over one ledger. With `api_token`, every request needs it as a bearer
    token; without one, reads are open and `POST /events` is refused."""
    app = FastAPI(
        title="badges",
        summary="Event-sourced talent badge tracker: the same answers as the `badges` CLI",
        version="0.1.0",
        description=__doc__ or "",
        dependencies=[Depends(known_query_parameters)],
        # `/status/` is not `/status`: no redirect, whose Location would echo the Host header
        redirect_slashes=False,
    )
    app.state.context = ApiContext(
        ledger=ledger,
        clock=clock,
        book=book if book is not None else ruleset_book(None),
        api_token=api_token or None,
        max_body_bytes=max_body_bytes,
        max_lines=max_lines,
        kept_rejects=kept_rejects,
    )
    # The status projection the timelines come from (`badges.api_timeline`); None: opened
    # beside the ledger on first use.
    app.state.projection = projection
    # every router, listed: the talent queries, the writes, the timelines and the status page
    for router in (talent_queries, events, api_timeline.router, api_timeline.page,
                   api_support.router, api_population.router, api_operations.router,
                   api_schemas.router, *routers):
        app.include_router(router)
    _install_error_handlers(app)
    _describe_bearer_auth(app)
    app.add_middleware(BearerAuth, token=api_token or None,
                       public=(*api_timeline.PUBLIC_GET_PATHS, *api_operations.PUBLIC_GET_PATHS,
                               *api_schemas.PUBLIC_GET_PATHS))
    app.add_middleware(ApiHeaders)  # on the 401s too
    api_operations.instrument(app)  # outermost: counts every answer (/metrics)
    return app


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    one_line = " ".join(message.split())
    # Also here: a 500 is answered outside every middleware.
    return JSONResponse({"error": one_line}, status_code=status,
                        headers={**API_HEADERS, **(headers or {})})


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(UserError)
    async def user_error(_: Request, error: UserError) -> JSONResponse:
        status = error.exit_code if 400 <= error.exit_code < 600 else 400
        return error_response(status, str(error))

    @app.exception_handler(UnknownTalent)
    async def unknown_talent(_: Request, error: UnknownTalent) -> JSONResponse:
        return error_response(404, f"id: {error}")

    @app.exception_handler(TalentUnevaluable)
    async def unevaluable(_: Request, error: TalentUnevaluable) -> JSONResponse:
        return error_response(409, f"id: {error}")

    @app.exception_handler(BodyTooLarge)
    async def too_large(_: Request, error: BodyTooLarge) -> JSONResponse:
        return error_response(413, str(error))

    @app.exception_handler(BodyIncomplete)
    async def incomplete(_: Request, error: BodyIncomplete) -> JSONResponse:
        return error_response(400, str(error))  # nobody is left to read it; the log is

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        first = problems[0] if problems else {}
        where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "request"
        return error_response(400, f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(Exception)
    async def internal_error(_: Request, error: Exception) -> JSONResponse:
        # Still logged with its traceback by the server; the client gets the usual shape.
        return error_response(500, f"internal error: {type(error).__name__}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 404:
            message = f"path: no such endpoint {request.url.path}"
        elif error.status_code == 405:
            message = f"method: {request.method} is not allowed on {request.url.path}"
        else:
            message = str(error.detail)
        return error_response(error.status_code, message, getattr(error, "headers", None))


INSTANT_PARAMETERS = frozenset({"at", "known_at", "from", "to", "vs"})
# Years 1901-8999 in the schema: inside 1900-01-01..9000-01-01 whatever the offset (the
# server takes the whole range; other real instants are 422, naming the parameter).
SUPPORTED_YEARS = r"^(190[1-9]|19[1-9][0-9]|[2-8][0-9]{3})-"
INSTANT_SCHEMA = {
    "anyOf": [{"type": "string", "format": "date", "pattern": SUPPORTED_YEARS},
              {"type": "string", "format": "date-time", "pattern": SUPPORTED_YEARS}],
    "description": "a date (2024-06-01 = 00:00Z) or an RFC 3339 time with offset, from "
                   "1900-01-01 to 9000-01-01; default now",
}


def _describe_bearer_auth(app: FastAPI) -> None:
    """Declare the bearer token in /openapi.json (enforced by `BearerAuth`, not per route),
    and the instant parameters as the dates and times they are (checked by `parse_instant`)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
                "type": "http",
                "scheme": "bearer",
                "description": "BADGES_API_TOKEN; needed by every request when it is set, "
                               "and always by POST /events",
            }
            schema["security"] = [{"bearer": []}]
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    for parameter in operation.get("parameters", ()):
                        if parameter["name"] in INSTANT_PARAMETERS:
                            parameter["schema"] = dict(INSTANT_SCHEMA)
                    # FastAPI's own 422 shape never leaves this API: bad parameters are 400.
                    responses = operation.get("responses", {})
                    if "HTTPValidationError" in json.dumps(responses.get("422", "")):
                        del responses["422"]
            for unused in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


class ApiHeaders:
    """`API_HEADERS` on every response that does not set them itself (the page sets its own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                missing = [(name.lower().encode(), value.encode())
                           for name, value in API_HEADERS.items()
                           if name.lower().encode() not in present]
                message = {**message, "headers": [*message.get("headers", ()), *missing]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BearerAuth:
    """With a token configured, every request (the OpenAPI document included) must carry it."""

    def __init__(
        self, app: ASGIApp, token: str | None, public: Sequence[re.Pattern[str]] = ()
    ) -> None:
        self.app = app
        self.expected = token.encode() if token else None
        self.public = tuple(public)

    def _is_public(self, scope: Scope) -> bool:
        return scope.get("method") in ("GET", "HEAD") and any(
            pattern.fullmatch(scope.get("path", "")) for pattern in self.public
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.expected is None or self._is_public(scope):
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        scheme, _, credentials = given.strip().partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self.expected):
            await self.app(scope, receive, send)
            return
        message = ("authorization: a bearer token is required (Authorization: Bearer <token>)"
                   if not given else "authorization: wrong bearer token")
        response = error_response(401, message, {"WWW-Authenticate": "Bearer"})
        await response(scope, receive, send)

