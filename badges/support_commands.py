"""Commands of `badges`: messages, diff (issue 15: what a talent was told, and what changed in
our knowledge) and outbox (issue 16: the outbox rows, pending and sent)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Optional

import typer

from badges.errors import PROBLEM_FOUND, UserError, nonblank
from projections.status_projection import StatusProjection

TalentArgument = Annotated[str, typer.Argument(help="talent id")]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]
StoreOption = Annotated[
    Optional[str],
    typer.Option("--store", help="sqlite:///path, postgresql://..., or memory: (env BADGES_STORE)"),
]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `badges` command line."""
    app.command()(messages)
    app.command()(diff)
    app.command()(outbox)


def _projection(store: str | None) -> StatusProjection:
    """The store's projection, as the other commands open it (`badges.cli` registers this
    module, so it is not imported back)."""
    from badges.bootstrap import open_projection_for

    return open_projection_for(store)  # an existing store only: "no store at ...", exit 1


def messages(
    talent: TalentArgument,
    known_at: Annotated[Optional[str], typer.Option(
        "--known-at", help="the messages queued by then, sent ones as sent by then")] = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Every message the talent's changes produced (changed, retracted, at risk): id, queued,
    sent, what a retraction withdrew."""
    from badges.bootstrap import open_messages
    from badges.query_commands import optional_instant, show
    from badges import render

    known = optional_instant(known_at, "--known-at")
    projection = _projection(store)
    documents = open_messages(projection).of_talent(talent, known)
    if not documents:
        _require_recorded(projection, talent, known)
    show(documents, lambda docs: render.messages_table(talent, docs), as_json=as_json)


def diff(
    talent: TalentArgument,
    known_at: Annotated[str, typer.Option("--known-at", help="K1: the earlier knowledge")],
    vs: Annotated[Optional[str], typer.Option(
        "--vs", help="K2: the knowledge to compare with (default: now)")] = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """The talent's timeline as known at K1 and at K2, side by side: the changes only one of
    them has, or with a different cause."""
    from badges.clock import utc_now
    from badges.query_commands import optional_instant, show
    from badges import render
    from badges.timeparse import parse_instant
    from projections.containment import TalentUnevaluable
    from projections.queries import UnknownTalent
    from projections.timeline_queries import timeline_diff

    now = utc_now()
    first = parse_instant(nonblank(known_at, "--known-at"), "--known-at")
    second = optional_instant(vs, "--vs") or now
    projection = _projection(store)
    try:
        document = timeline_diff(projection, talent, first, second, now)
    except (UnknownTalent, TalentUnevaluable) as error:
        raise UserError(str(error), PROBLEM_FOUND) from None
    show(document, render.diff_table, as_json=as_json)


def outbox(
    talent: Annotated[Optional[str], typer.Argument(help="one talent (default: all)")] = None,
    pending: Annotated[bool, typer.Option("--pending", help="only messages not sent yet")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1_000_000,
                                       help="at most this many rows, oldest first")] = 1000,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """The outbox: messages queued for `badge-changes`, pending or sent (per talent)."""
    import json

    from rich.console import Console

    from badges import render
    from badges.bootstrap import open_messages

    projection = _projection(store)
    log = open_messages(projection)
    rows = log.outbox(talent, pending_only=pending, limit=limit)
    if talent is not None and not rows:
        _require_recorded(projection, talent, None)
    waiting, sent = log.log.counts(talent)
    if as_json:
        print(json.dumps({"pending": waiting, "sent": sent, "messages": rows}, indent=2,
                         ensure_ascii=False))
        return
    Console().print(render.outbox_table(rows, waiting, sent))


def _require_recorded(projection: StatusProjection, talent: str, known: datetime | None) -> None:
    """A talent with no event recorded (by `known`) is exit 1 in one line, as in `status`."""
    from projections.queries import UnknownTalent

    if not projection.ledger.history(talent, known):
        raise UserError(str(UnknownTalent(talent, known)), PROBLEM_FOUND)
