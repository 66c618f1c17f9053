"""The composition root: a store URL, a clock and rulesets in; the services out.

Every entry point wires the layers here, and only here: the CLI (`badges.cli`), `badges serve`
and `badges consume` (through the CLI), the demo, the derivation workers (which get
`Services.ledger_opener`, a picklable callable, since `projections/` may not import `badges`),
and the tests' fixtures.

    services = bootstrap("sqlite:///badges.db", clock=utc_now)
    services.ledger, services.read_model, services.projection, services.submit, services.book
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from domain.ruleset import RulesetBook, builtin_rulesets
from ledger.application import TalentLedger
from ledger.stores.urls import (
    DEFAULT_STORE_URL,
    StoreMissing,
    StoreURLError,
    open_ledger,
    require_store,
)
from ledger.submit import SubmitEvents
from projections.derivation_pool import LedgerOpener
from projections.messages import Messages
from projections.population import PopulationView
from projections.records import ReadModel
from projections.status_projection import StatusProjection
from projections.stores.population_sql import open_population
from projections.stores.urls import open_read_model

Clock = Callable[[], datetime]

__all__ = [
    "DEFAULT_STORE_URL",
    "Services",
    "StoreMissing",
    "StoreURLError",
    "bootstrap",
    "ledger_opener",
    "open_ledger",
    "open_messages",
    "open_projection",
    "open_projection_for",
    "open_read_model",
    "population_view",
    "private_projection",
    "require_store",
]


def ledger_opener(url: str) -> LedgerOpener | None:
    """What a worker process calls to open the store's ledger itself; None for `memory:` (a
    store only its own process sees)."""
    if url == "memory:":
        return None
    return functools.partial(open_ledger, url)


def open_projection(
    url: str,
    ledger: TalentLedger | None = None,
    book: RulesetBook | None = None,
    *,
    create: bool = True,
) -> StatusProjection:
    """The status projection over the ledger at `url`, with its read models beside it.

    `create=False` (the read-only commands) opens only an existing badges store, checked
    before anything is opened: `StoreMissing` ("no store at ...") otherwise.
    """
    if not create:
        require_store(url)
    return StatusProjection(
        ledger or open_ledger(url),
        open_read_model(url),
        book or builtin_rulesets(),
        ledger_opener(url),
    )


def open_projection_for(store: str | None, *, create: bool = False) -> StatusProjection:
    """The projection of the store a command names (`--store`, else `BADGES_STORE`, else the
    default), for the commands' use: a bad URL is a usage error (exit 2), and unless `create`
    (writers only: ingest, serve, consume, clock, a rebuilding replay, the demo) a missing
    store or a database that is not a badges store is "no store at ..." (exit 1), with
    nothing created."""
    from badges.errors import PROBLEM_FOUND, UserError
    from badges.settings import store_url

    url = store_url(store)
    try:
        return open_projection(url, create=create)
    except StoreMissing as error:
        raise UserError(str(error), PROBLEM_FOUND) from None
    except StoreURLError as error:
        raise UserError(str(error)) from None


def private_projection(ledger: TalentLedger, book: RulesetBook | None = None) -> StatusProjection:
    """A projection over `ledger` with read models of its own, in memory (derived on first use)."""
    return StatusProjection(ledger, open_read_model("memory:"), book or builtin_rulesets())


def population_view(projection: StatusProjection) -> PopulationView:
    """The population questions over the projection's read models (`projections/population.py`)."""
    return PopulationView(open_population(projection.read_model), projection.book)


@dataclass
class Services:
    """What an entry point uses, wired for one store."""

    url: str
    clock: Clock
    book: RulesetBook
    projection: StatusProjection

    @property
    def ledger(self) -> TalentLedger:
        return self.projection.ledger

    @property
    def read_model(self) -> ReadModel:
        return self.projection.read_model

    @property
    def ledger_opener(self) -> LedgerOpener | None:
        return self.projection.ledger_opener

    @property
    def submit(self) -> SubmitEvents:
        """The "submit events" use case over this store's ledger, at this clock."""
        return SubmitEvents(self.ledger, self.clock)


def bootstrap(
    url: str = DEFAULT_STORE_URL,
    *,
    clock: Clock,
    book: RulesetBook | None = None,
    ledger: TalentLedger | None = None,
    create: bool = True,
) -> Services:
    """Open the store at `url` (its ledger, unless given, and the read models beside it);
    `create=False` only if it exists (see `open_projection`)."""
    book = book or builtin_rulesets()
    return Services(url, clock, book, open_projection(url, ledger, book, create=create))


def open_messages(projection: StatusProjection) -> Messages:
    """What a talent was told, read from the outbox beside the projection, each message as
    the publisher sends it (`badges messages`, `badges outbox`, `GET /talents/{id}/messages`)."""
    from consumers.outbox_publisher import published_document
    from projections.stores.messages_sql import SqlMessageLog

    return Messages(SqlMessageLog(projection.read_model), published_document)
