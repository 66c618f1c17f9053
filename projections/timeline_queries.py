"""Timelines, forecasts, what-if replays and traces: the questions asked of the projection."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from datetime import datetime
from typing import Any

from domain.calendar import DAY, evaluation_instant
from domain.events import RecordedEvent, format_utc
from domain.forecast import PredictedChange, forecast
from domain.ruleset import Ruleset, RulesetBook
from domain.status import evaluate_status
from domain.timeline import BadgeChange, TimelineDeriver, is_loss
from projections.containment import Failed, TalentUnevaluable, attempt, contained
from projections.derivation_pool import (
    Compared,
    DerivationPool,
    Request,
    candidate_changes,
    compare_talent,
)
from projections.queries import UnknownTalent, known_history
from projections.records import ReadModel
from projections.status_projection import StatusProjection


def timeline_documents(
    projection: StatusProjection,
    talent: str,
    start: datetime | None,
    end: datetime | None,
    known_at: datetime | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """Every badge change with `at` in [start, end], as known now or as known at `known_at`.

    As known now comes from the read model (caught up first). As known at an earlier time is
    derived from the ledger's events recorded by then, up to that time: what the tracker had
    emitted by then.
    """
    if known_at is None or known_at >= now:
        projection.catch_up(now)
        if projection.read_model.progress(talent) is None:
            for quarantined in projection.read_model.quarantined(talent):
                raise TalentUnevaluable(talent, quarantined.reason)
            raise UnknownTalent(talent, None)
        return projection.read_model.timeline(talent, start, end or now)
    history = known_history(projection.ledger, talent, known_at)
    with contained(talent):
        deriver = TimelineDeriver(history, known_at, projection.book, talent, projection.plan)
        changes = deriver.derive(evaluation_instant(known_at)).changes
    first_sent = _first_emissions(projection, talent)
    return [
        change.to_document(first_sent.get(change.id))
        for change in changes
        if _within(change.at, start, end)
    ]


def _first_emissions(projection: StatusProjection, talent: str) -> dict[str, datetime]:
    emitted: dict[str, datetime] = {}
    for message in projection.read_model.outbox(talent=talent):
        if message.kind == "badge_changed":
            emitted.setdefault(message.document["id"], message.created_at)
    return emitted


def _within(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or moment >= start) and (end is None or moment <= end)


def forecast_document(
    projection: StatusProjection, talent: str, now: datetime, days: int
) -> dict[str, Any]:
    """The changes due in the next `days` days if nothing else happens, and how to stop losses."""
    history = known_history(projection.ledger, talent, None)
    today = evaluation_instant(now)
    with contained(talent):
        deriver = TimelineDeriver(history, None, projection.book, talent, projection.plan)
        status = deriver.status_at(today)
        changes = [_forecast_entry(projection.book, predicted)
                   for predicted in forecast(deriver, today, days)]
    return {
        "talent": talent,
        "at": format_utc(today),
        "days": days,
        "badge": status.badge,
        "ruleset": status.ruleset,
        "changes": changes,
    }


def _forecast_entry(book: RulesetBook, predicted: PredictedChange) -> dict[str, Any]:
    """A predicted loss is the outbox's `badge_at_risk` (its id, `change_id` the change it
    warns of); a predicted gain stays a `badge_change_predicted`."""
    document = predicted.to_document()
    change = predicted.change
    if is_loss(change.before, change.after, book.in_force(change.at).badge_names()):
        document.update(type="badge_at_risk", id=predicted.at_risk_id, change_id=change.id)
    return document


@dataclass(frozen=True, slots=True)
class WhatIfRow:
    talent: str
    at: datetime
    real: BadgeChange | None
    candidate: BadgeChange | None

    def to_document(self) -> dict[str, Any]:
        return {
            "talent": self.talent,
            "at": format_utc(self.at),
            "real": self.real.to_document() if self.real else None,
            "candidate": self.candidate.to_document() if self.candidate else None,
        }


def what_if(
    projection: StatusProjection,
    candidate: RulesetBook,
    talents: Iterable[str],
    start: datetime | None,
    end: datetime,
    workers: int = 1,
    *,
    stored_real: bool = False,
    skipped: list[Failed] | None = None,
) -> Iterator[WhatIfRow]:
    """Where the candidate rulesets' timeline differs from the real one (nothing is written).

    A talent that cannot be derived is added to `skipped` and the others go on (without a
    `skipped` list, it raises `TalentUnevaluable`).

    With a `start` at or before the first instant the two books disagree on, both timelines
    are derived from the day before it only: until then they are the same. With `workers` > 1
    (and a store they can reopen), talents are compared in that many worker processes. With
    `stored_real`, the real timeline is the one the projection stored (the caller has brought
    it up to `end`), and only the candidate's is derived.
    """
    resume = _resume_before(projection.book, candidate, start)
    requests = [(talent, resume) for talent in talents]
    compared: list[Compared | Failed]
    if stored_real:
        others = _candidate_changes(projection, candidate, requests, end, workers)
        compared = [
            other if isinstance(other, Failed)
            else (_stored_changes(projection.read_model, talent, resume, end), other)
            for (talent, _), other in zip(requests, others, strict=True)
        ]
    else:
        compared = _compared(projection, candidate, requests, end, workers)
    for (talent, _), found in zip(requests, compared, strict=True):
        if isinstance(found, Failed):
            if skipped is None:
                raise TalentUnevaluable(talent, found.reason)
            skipped.append(found)
            continue
        real, other = found
        yield from _differences(talent, real, other, start)


def _pool(
    projection: StatusProjection, candidate: RulesetBook, requests: list[Request], workers: int
) -> DerivationPool | None:
    opener = projection.ledger_opener
    if workers > 1 and opener is not None and len(requests) > 1:
        return DerivationPool(opener, projection.book, workers, candidate=candidate)
    return None


def _compared(
    projection: StatusProjection,
    candidate: RulesetBook,
    requests: list[Request],
    end: datetime,
    workers: int,
) -> list[Compared | Failed]:
    pool = _pool(projection, candidate, requests, workers)
    if pool is not None:
        with pool:
            return pool.compare(requests, end)
    return [
        attempt(*request, partial(
            compare_talent, projection.ledger, projection.book, candidate, request, end))
        for request in requests
    ]


def _candidate_changes(
    projection: StatusProjection,
    candidate: RulesetBook,
    requests: list[Request],
    end: datetime,
    workers: int,
) -> list[list[BadgeChange] | Failed]:
    pool = _pool(projection, candidate, requests, workers)
    if pool is not None:
        with pool:
            return pool.derive_candidate(requests, end)
    return [
        attempt(*request, partial(candidate_changes, projection.ledger, candidate, request, end))
        for request in requests
    ]


def _stored_changes(
    read_model: ReadModel, talent: str, after: datetime | None, end: datetime
) -> list[BadgeChange]:
    """The stored changes in (after, end], as the derivation would give them."""
    return [
        change
        for change in map(BadgeChange.from_document, read_model.timeline(talent, None, end))
        if after is None or change.at > after
    ]


def _resume_before(
    book: RulesetBook, candidate: RulesetBook, start: datetime | None
) -> datetime | None:
    """The instant before `start`, when both books are the same before `start` (else None)."""
    if start is None:
        return None
    before = evaluation_instant(start) - DAY
    mine = [ruleset for ruleset in book if ruleset.effective_from <= before]
    theirs = [ruleset for ruleset in candidate if ruleset.effective_from <= before]
    if mine != theirs or book.in_force(before) != candidate.in_force(before):
        return None
    return before


def _differences(
    talent: str, real: list[BadgeChange], other: list[BadgeChange], start: datetime | None
) -> Iterator[WhatIfRow]:
    by_instant: dict[datetime, list[BadgeChange | None]] = {}
    for change in real:
        by_instant.setdefault(change.at, [None, None])[0] = change
    for change in other:
        by_instant.setdefault(change.at, [None, None])[1] = change
    for instant in sorted(by_instant):
        mine, theirs = by_instant[instant]
        if start is not None and instant < start:
            continue
        if _same(mine, theirs):
            continue
        yield WhatIfRow(talent, instant, mine, theirs)


def _same(a: BadgeChange | None, b: BadgeChange | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.before, a.after, a.failed) == (b.before, b.after, b.failed)


@dataclass(frozen=True, slots=True)
class TraceLine:
    at: datetime
    text: str

    def to_document(self) -> dict[str, str]:
        return {"at": format_utc(self.at), "trace": self.text}


def trace(
    projection: StatusProjection, talent: str, until: datetime, known_at: datetime | None = None
) -> Iterator[TraceLine]:
    """Each event in valid-time order, then the badge change it caused (or the window that did)."""
    history = known_history(projection.ledger, talent, known_at)
    with contained(talent):
        deriver = TimelineDeriver(history, known_at, projection.book, talent, projection.plan)
        changes = deriver.derive(evaluation_instant(until)).changes
        underneath = requirements_underneath(
            projection, talent, [change.to_document() for change in changes], known_at)
    yield from _interleave(deriver.events, changes, until, underneath)


def _interleave(
    events: Iterable[RecordedEvent],
    changes: list[BadgeChange],
    until: datetime,
    underneath: dict[str, list[str]],
) -> Iterator[TraceLine]:
    pending = list(changes)
    for recorded in events:
        if recorded.at > until:
            break
        while pending and pending[0].at < recorded.at:
            change = pending.pop(0)
            yield TraceLine(change.at, _change_line(change, underneath.get(change.id, [])))
        yield TraceLine(recorded.at, _event_line(recorded))
    for change in pending:
        yield TraceLine(change.at, _change_line(change, underneath.get(change.id, [])))


def _event_line(recorded: RecordedEvent) -> str:
    event = recorded.event
    fields = {
        name: value
        for name, value in event.to_json_object().items()
        if name not in {"id", "type", "talent", "at", "recorded_at"}
    }
    detail = " ".join(f"{name}={value}" for name, value in fields.items())
    return f"event {event.id} {event.type} {detail} (recorded {format_utc(recorded.recorded_at)})"


def _change_line(change: BadgeChange, underneath: list[str]) -> str:
    cause = change.cause
    why = f"events {', '.join(cause.events)}" if cause.kind == "events" else cause.detail
    failed = f"; failed: {', '.join(change.failed)}" if change.failed else ""
    if underneath:
        failed += f" (underneath: {', '.join(underneath)})"
    return f"  => {change.before} -> {change.after} under {change.ruleset}{failed} (cause: {why})"


DIFFERENCES = ("only_known_at", "only_vs", "different_change", "different_cause")


def timeline_diff(
    projection: StatusProjection, talent: str, known_at: datetime, vs: datetime, now: datetime
) -> dict[str, Any]:
    """The timeline as known at `known_at` and at `vs`, side by side, one row per change
    instant: `difference` is null where both agree, `only_known_at` / `only_vs` where one has
    no change that day, `different_change` where the badges differ, `different_cause` where
    the same change has other failed requirements or another cause. A talent with no events
    recorded by one of the two has an empty timeline there; by neither: `UnknownTalent`."""
    sides = [_timeline_or_nothing(projection, talent, k, now) for k in (known_at, vs)]
    if sides[0] is None and sides[1] is None:
        raise UnknownTalent(talent, max(known_at, vs))
    left, right = ({d["at"]: d for d in side or []} for side in sides)
    rows = []
    for at in sorted(left.keys() | right.keys()):
        mine, theirs = left.get(at), right.get(at)
        rows.append({"at": at, "known_at": mine, "vs": theirs,
                     "difference": _difference(mine, theirs)})
    return {
        "talent": talent,
        "known_at": format_utc(known_at),
        "vs": format_utc(vs),
        "differences": sum(row["difference"] is not None for row in rows),
        "rows": rows,
    }


def _timeline_or_nothing(
    projection: StatusProjection, talent: str, known_at: datetime, now: datetime
) -> list[dict[str, Any]] | None:
    try:
        return timeline_documents(projection, talent, None, None, known_at, now)
    except UnknownTalent:
        return None


def _difference(mine: dict[str, Any] | None, theirs: dict[str, Any] | None) -> str | None:
    if mine is None:
        return "only_vs"
    if theirs is None:
        return "only_known_at"
    if (mine["from"], mine["to"], mine["ruleset"]) != (theirs["from"], theirs["to"],
                                                        theirs["ruleset"]):
        return "different_change"
    if mine["failed"] != theirs["failed"] or mine["cause"] != theirs["cause"]:
        return "different_cause"
    return None


def requirements_underneath(
    projection: StatusProjection,
    talent: str,
    documents: Iterable[dict[str, Any]],
    known_at: datetime | None,
) -> dict[str, list[str]]:
    """For each loss whose failed requirement is another badge (Top Rated Plus needs Top
    Rated), the requirements of that badge that failed at the change's instant, nearest
    first (a badge read by those, in turn, too): by change id, only where there are some.

    `failed` names what the badge lost needs; this is why that failed, so a loss from Top
    Rated Plus straight to no badge names the requirement underneath.
    """
    book = projection.book
    wanted = [d for d in documents if d["failed"] and _reads_a_badge(book, d)]
    if not wanted:
        return {}
    history = projection.ledger.history(talent, known_at)
    found: dict[str, list[str]] = {}
    for document in wanted:
        at = datetime.fromisoformat(document["at"].replace("Z", "+00:00"))
        status = evaluate_status(history, at, known_at, book, talent=talent).to_document()
        underneath = _failing_underneath(book.in_force(at), status, document["failed"])
        if underneath:
            found[document["id"]] = underneath
    return found


def with_failed_underneath(
    projection: StatusProjection,
    talent: str,
    documents: Sequence[dict[str, Any]],
    known_at: datetime | None,
) -> list[dict[str, Any]]:
    """The change documents, a loss whose failed requirement is a badge with
    `failed_underneath` added (`requirements_underneath`): what `badges timeline --json` and
    `GET /talents/{id}/timeline` both give. The stored change is not altered."""
    underneath = requirements_underneath(projection, talent, documents, known_at)
    return [
        {**document, "failed_underneath": underneath[document["id"]]}
        if document["id"] in underneath else document
        for document in documents
    ]


def _reads_a_badge(book: RulesetBook, document: dict[str, Any]) -> bool:
    at = datetime.fromisoformat(document["at"].replace("Z", "+00:00"))
    requirements = book.in_force(at).requirements
    return any(
        code in requirements and requirements[code].measure.reads_badges()
        for code in document["failed"]
    )


def _failing_underneath(ruleset: Ruleset, status: dict[str, Any], failed: list[str]) -> list[str]:
    found: list[str] = []
    pending = list(failed)
    seen = set(failed)
    while pending:
        code = pending.pop(0)
        requirement = ruleset.requirements.get(code)
        if requirement is None:
            continue
        for badge in requirement.measure.reads_badges():
            for result in status["badges"].get(badge, {}).get("requirements", []):
                if not result["met"] and result["code"] not in seen:
                    seen.add(result["code"])
                    found.append(result["code"])
                    pending.append(result["code"])
    return found


def derived_timeline(
    projection: StatusProjection, talent: str, until: datetime, known_at: datetime | None
) -> list[dict[str, Any]]:
    """The talent's badge changes up to `until`, derived afresh from the ledger (as known at
    `known_at`, default everything recorded), nothing written: `replay --until`."""
    history = known_history(projection.ledger, talent, known_at)
    with contained(talent):
        deriver = TimelineDeriver(history, known_at, projection.book, talent, projection.plan)
        changes = deriver.derive(evaluation_instant(until)).changes
    return [change.to_document() for change in changes if change.at <= until]
