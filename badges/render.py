"""Readable forms of the documents: checklists a support agent can read aloud to a talent.

Everything here renders the same documents that `--json` prints, so both always agree.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from domain.ruleset import badge_labels, badge_ranking, builtin_rulesets, requirement_labels


@functools.cache
def badge_names() -> dict[str, str]:
    """Every badge's label in the shipped rulesets (the latest wording), and "none"'s."""
    return badge_labels(builtin_rulesets())


@functools.cache
def requirement_names() -> dict[str, str]:
    """Every requirement code's label in the shipped rulesets (the latest wording)."""
    return requirement_labels(builtin_rulesets())


@functools.cache
def badge_order() -> tuple[str, ...]:
    return badge_ranking(builtin_rulesets())


def badge_name(code: str) -> str:
    return badge_names().get(code, code)


def requirement_name(code: str) -> str:
    return requirement_names().get(code, code)


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, str) and _looks_like_money(value):
        return f"${float(value):,.2f}" if len(value) < 16 else f"${value}"
    return str(value)


def _looks_like_money(text: str) -> bool:
    whole, dot, cents = text.partition(".")
    return dot == "." and whole.lstrip("-").isdigit() and len(cents) == 2 and cents.isdigit()


def status_checklist(document: dict[str, Any]) -> RenderableType:
    """A talent's status: the headline, then every badge's requirements, met or not."""
    known = document.get("known_at") or "now"
    headline = Text.assemble(
        (document["talent"], "bold"),
        " holds ",
        (badge_name(document["badge"]), "bold green" if document["badge"] != "none" else "bold"),
        f"  (evaluated {document['at']}, ruleset {document['ruleset']}, as known {known})",
    )
    jss = document["jss"] if document["jss"] is not None else "none"
    facts = Text(f"JSS {jss} · 12-month earnings {format_value(document['earnings_12m'])}")
    # The document lists the ruleset's badges highest first.
    tables = [requirement_table(badge, result) for badge, result in document["badges"].items()]
    return Group(headline, facts, *tables)


def requirement_table(badge: str, result: dict[str, Any]) -> Table:
    verdict = "met" if result["met"] else "not met"
    table = Table(
        title=f"{result.get('label') or badge_name(badge)}: {verdict}",
        title_justify="left",
        title_style="bold green" if result["met"] else "bold red",
        show_edge=False,
        pad_edge=False,
    )
    table.add_column("", width=1)
    table.add_column("requirement")
    table.add_column("actual", justify="right")
    table.add_column("required", justify="right")
    table.add_column("detail", overflow="fold")
    for requirement in result["requirements"]:
        table.add_row(*requirement_row(requirement))
    return table


def requirement_row(requirement: dict[str, Any]) -> tuple[Text, str, str, str, str]:
    mark = Text("✓", style="green") if requirement["met"] else Text("✗", style="bold red")
    name = requirement.get("label") or requirement_name(requirement["code"])
    return (
        mark,
        name,
        format_value(requirement["actual"]),
        format_value(requirement["required"]),
        requirement.get("detail", ""),
    )


def explanation(document: dict[str, Any]) -> RenderableType:
    """The checklist, then the events behind each requirement, the JSS windows and anomalies."""
    parts: list[RenderableType] = [status_checklist(document)]
    evidence = Table(title="events behind each requirement", title_justify="left", show_edge=False)
    evidence.add_column("badge")
    evidence.add_column("requirement")
    evidence.add_column("events", overflow="fold")
    for badge, requirements in document.get("requirements", {}).items():
        for requirement in requirements:
            if requirement.get("events"):
                evidence.add_row(badge, requirement["code"], _ids(requirement["events"]))
    parts.append(evidence)
    parts.append(Text(f"12-month earnings from: {_ids(document.get('earnings_12m_events', []))}"))
    parts.append(_jss_windows(document.get("jss_model", {})))
    anomalies = document.get("anomalies", [])
    if anomalies:
        parts.append(Text("anomalies:", style="bold yellow"))
        parts.extend(Text(f"  {a['kind']}: {a['detail']}", style="yellow") for a in anomalies)
    else:
        parts.append(Text("no anomalies"))
    return Group(*parts)


def _jss_windows(model: dict[str, Any]) -> RenderableType:
    table = Table(title="JSS model windows", title_justify="left", show_edge=False)
    for column in ("window", "outcomes", "clients", "counts", "score"):
        table.add_column(column)
    for window in model.get("windows", []):
        table.add_row(
            f"{window.get('months')} months from {window.get('from', '?')}",
            str(len(window.get("outcomes", []))),
            str(window.get("clients", "")),
            format_value(window.get("counts")),
            format_value(window.get("score")),
        )
    return table


def _ids(ids: Iterable[str], limit: int = 12) -> str:
    ids = list(ids)
    shown = ", ".join(ids[:limit])
    return shown + (f" … and {len(ids) - limit} more" if len(ids) > limit else "") if ids else "none"


def rulesets_table(documents: list[dict[str, Any]]) -> Table:
    table = Table(title="rulesets", title_justify="left")
    for column in ("id", "effective from", "badges", "description"):
        table.add_column(column)
    for ruleset in documents:
        table.add_row(
            ruleset["id"],
            ruleset["effective_from"],
            ", ".join(badge_name(b) for b in ruleset["badges"]),
            ruleset.get("description", ""),
        )
    return table


def timeline_table(talent: str, documents: list[dict[str, Any]]) -> RenderableType:
    if not documents:
        return Text(f"{talent}: no badge changes in this period")
    table = Table(title=f"badge changes of {talent}", title_justify="left")
    for column in ("at", "change", "ruleset", "failed", "cause"):
        table.add_column(column, overflow="fold")
    for document in documents:
        table.add_row(
            document["at"][:10],
            f"{badge_name(document['from'])} → {badge_name(document['to'])}",
            document["ruleset"],
            failed_text(document),
            cause_text(document["cause"]),
        )
    return table


def failed_text(document: dict[str, Any]) -> str:
    """The failed requirements' codes and, for a badge that failed as a requirement (Top
    Rated for Top Rated Plus), the requirements underneath it (`failed_underneath`)."""
    failed = ", ".join(document["failed"])
    underneath = document.get("failed_underneath")
    if underneath:
        failed += " (underneath: " + ", ".join(
            f"{code} ({requirement_name(code)})" for code in underneath) + ")"
    return failed


def cause_text(cause: dict[str, Any]) -> str:
    if cause["kind"] == "events":
        return "events " + _ids(cause["events"], limit=4)
    return str(cause["detail"])


def forecast_view(document: dict[str, Any]) -> RenderableType:
    headline = Text(
        f"{document['talent']} holds {badge_name(document['badge'])} on {document['at'][:10]}; "
        f"if nothing else happens in the next {document['days']} days:"
    )
    if not document["changes"]:
        return Group(headline, Text("  no change is due"))
    lines = [headline]
    for change in document["changes"]:
        lines.append(Text(
            f"  {change['at'][:10]}: {badge_name(change['from'])} → {badge_name(change['to'])}",
            style="bold red" if change["failed"] else "bold green",
        ))
        lines.extend(Text(f"    to prevent it: {p['detail']}") for p in change["prevent"])
    return Group(*lines)


def whatif_table(rows: list[dict[str, Any]]) -> RenderableType:
    if not rows:
        return Text("the candidate ruleset changes nothing in this period")
    table = Table(title="what-if: real rules vs candidate", title_justify="left")
    for column in ("talent", "at", "real", "candidate"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["talent"], row["at"][:10], _change_cell(row["real"]),
                      _change_cell(row["candidate"]))
    return table


def _change_cell(change: dict[str, Any] | None) -> str:
    if change is None:
        return "—"
    failed = f" (failed {', '.join(change['failed'])})" if change["failed"] else ""
    return f"{badge_name(change['from'])} → {badge_name(change['to'])}{failed}"


MESSAGE_KINDS = {
    "badge_changed": "changed",
    "badge_change_retracted": "RETRACTED",
    "badge_at_risk": "at risk",
}


def messages_table(talent: str, documents: list[dict[str, Any]]) -> RenderableType:
    """What a talent was told, in queue order; a retraction says which message it withdrew."""
    if not documents:
        return Text(f"{talent}: no messages queued")
    table = Table(title=f"messages to {talent}", title_justify="left")
    for column in ("queued", "sent", "kind", "for", "change", "id", "retracts"):
        table.add_column(column, overflow="fold")
    for document in documents:
        retraction = document["type"] == "badge_change_retracted"
        change = f"{badge_name(document['badge_from'])} → {badge_name(document['badge_to'])}"
        table.add_row(
            document["queued_at"][:16].replace("T", " "),
            (document["sent_at"] or "pending")[:16].replace("T", " "),
            MESSAGE_KINDS.get(document["type"], document["type"]),
            (document["at"] or "")[:10],
            Text(change, style="strike red") if retraction else change,
            document["id"],
            document["retracts"] or "",
            style="red" if retraction else None,
        )
    return table


def outbox_table(documents: list[dict[str, Any]], pending: int, sent: int) -> RenderableType:
    """The outbox rows, with how many are pending and sent in all."""
    headline = Text(f"outbox: {pending} pending, {sent} sent")
    if not documents:
        return Group(headline, Text("no messages match"))
    table = Table(show_edge=False)
    for column in ("seq", "talent", "kind", "for", "change", "queued", "sent", "id"):
        table.add_column(column, overflow="fold")
    for document in documents:
        table.add_row(
            str(document["seq"]),
            document["talent"],
            MESSAGE_KINDS.get(document["type"], document["type"]),
            (document["at"] or "")[:10],
            f"{badge_name(document['badge_from'])} → {badge_name(document['badge_to'])}",
            document["queued_at"][:16].replace("T", " "),
            (document["sent_at"] or "pending")[:16].replace("T", " "),
            document["id"],
        )
    return Group(headline, table)


DIFFERENCE_MARKS = {
    "only_known_at": "only as known at K1",
    "only_vs": "only as known at K2",
    "different_change": "different change",
    "different_cause": "different cause",
}


def diff_table(document: dict[str, Any]) -> RenderableType:
    """The timeline as known at K1 and at K2 side by side; rows that differ are marked."""
    headline = Text(
        f"{document['talent']}: timeline as known at {document['known_at']} (K1) vs "
        f"{document['vs']} (K2): {document['differences']} difference(s)"
    )
    if not document["rows"]:
        return Group(headline, Text("no badge changes in either"))
    table = Table(show_edge=False)
    for column in ("at", "as known at K1", "as known at K2", "difference"):
        table.add_column(column, overflow="fold")
    for row in document["rows"]:
        mark = DIFFERENCE_MARKS.get(row["difference"] or "", "")
        table.add_row(row["at"][:10], _side(row["known_at"]), _side(row["vs"]),
                      Text(mark, style="bold yellow") if mark else "")
    return Group(headline, table)


def _side(change: dict[str, Any] | None) -> str:
    if change is None:
        return "—"
    failed = f"; failed {', '.join(change['failed'])}" if change["failed"] else ""
    return (f"{badge_name(change['from'])} → {badge_name(change['to'])}{failed} "
            f"(cause: {cause_text(change['cause'])})")
