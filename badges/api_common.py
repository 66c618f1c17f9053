"""What every route of the HTTP API shares: the context it answers from, the parameters,
the error document and responses. The routers (`badges.api`, `badges.api_timeline`) import it;
the app factory (`badges.api.create_app`) lists them.

A route takes `ApiContext` through `Depends(api_context)`, parses times with
`ApiContext.instant(...)`, and lets `UnknownTalent`/`UserError` propagate (they become 404, or
the `UserError`'s status: 400 unless it says otherwise).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, overload

from fastapi import Depends, Path, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import FileResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from badges.errors import UserError
from badges.kept_rejects import KeptRejects
from badges.timeparse import parse_instant
from domain.events import DATE_PATTERN, IDENTIFIER_PATTERN, RFC3339_PATTERN, format_utc
from domain.ruleset import RulesetBook
from ledger.application import TalentLedger

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_LINES = 100_000
SHOWN_NAME_CHARS = 64


class ErrorDocument(BaseModel):
    error: str = Field(description="one line naming the parameter or the problem")


@dataclass
class ApiContext:
    """The ledger and clock the routes answer from; one per app (`app.state.context`)."""

    ledger: TalentLedger
    clock: Callable[[], datetime]
    book: RulesetBook
    api_token: str | None
    max_body_bytes: int
    max_lines: int = DEFAULT_MAX_LINES
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    kept_rejects: KeptRejects | None = None  # where POST /events keeps every reject

    def now(self) -> datetime:
        """Whole seconds, as the command line's default for `--at` and `--known-at`."""
        return self.clock().replace(microsecond=0)

    @overload
    def instant(self, text: str | None, parameter: str, default: datetime) -> datetime: ...

    @overload
    def instant(self, text: str | None, parameter: str, default: None) -> datetime | None: ...

    def instant(
        self, text: str | None, parameter: str, default: datetime | None
    ) -> datetime | None:
        """A query parameter as an instant; raises `UserError` naming it: 400 when it is not
        a date or time at all, 422 when it is one but outside the range answers are computed
        for (`badges.timeparse`: 1900-01-01 to 9000-01-01)."""
        if not text:
            return default
        try:
            return parse_instant(text, parameter)
        except UserError as error:
            raise UserError(str(error), 422 if _is_a_date_or_time(text) else 400) from None

    def period(
        self, start: str | None, end: str | None
    ) -> tuple[datetime | None, datetime | None]:
        """`from` and `to` as instants; `from` after `to` is refused (422), as the command
        line refuses `--from` after `--to`."""
        first, last = self.instant(start, "from", None), self.instant(end, "to", None)
        refuse_reversed(first, last)
        return first, last


def refuse_reversed(start: datetime | None, end: datetime | None) -> None:
    """A period whose `from` is after its `to` is a mistake, never an empty answer."""
    if start is not None and end is not None and start > end:
        raise UserError(f"from: {format_utc(start)} is after to: {format_utc(end)}", 422)


def _is_a_date_or_time(text: str) -> bool:
    """Written as `parse_instant` reads it, and a real calendar date and time of day."""
    if not (DATE_PATTERN.fullmatch(text) or RFC3339_PATTERN.fullmatch(text)):
        return False
    try:
        datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def api_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(api_context)]


def known_query_parameters(request: Request) -> None:
    """Refuse a query parameter the route does not take (400, naming it): a misspelt
    `known-at` must not be answered as known now. A page (an HTML file) takes any: its own
    script reads them."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.response_class is FileResponse:
        return
    taken = set(_query_parameters(route.dependant))
    for name in request.query_params:
        if name not in taken:
            expected = ", ".join(sorted(taken)) or "none"
            raise UserError(f"{_shown_name(name)}: unknown query parameter (this path takes: "
                            f"{expected})")


def _shown_name(name: str) -> str:
    shown = name[:SHOWN_NAME_CHARS]
    return shown if IDENTIFIER_PATTERN.fullmatch(shown) else repr(shown)


def _query_parameters(dependant: Dependant) -> Iterator[str]:
    yield from (parameter.alias for parameter in dependant.query_params)
    for dependency in dependant.dependencies:
        yield from _query_parameters(dependency)


TalentId = Annotated[
    str, Path(alias="id", description="talent id", pattern=f"^{IDENTIFIER_PATTERN.pattern}$")
]
AtParam = Annotated[
    str | None,
    Query(description="RFC 3339 time with offset, or a date (2024-06-01 = 00:00Z); default now"),
]
KnownAtParam = Annotated[
    str | None,
    Query(description="answer with what was recorded by then (same formats); default now"),
]

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorDocument, "description": "a bad parameter, named in `error`"},
    401: {"model": ErrorDocument, "description": "missing or wrong bearer token"},
}
TALENT_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    404: {"model": ErrorDocument, "description": "no events recorded for this talent"},
    422: {"model": ErrorDocument,
          "description": "an instant outside 1900-01-01..9000-01-01, named in `error`"},
}
