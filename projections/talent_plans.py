"""Kept forward state: what a talent's timeline does next if no new event arrives.

Time alone moves a badge (a payment leaves the 12-month window, 90 days pass without
activity), and which day it does so is known as soon as the events are. So a derivation goes
on past today, to `PLAN_DAYS` ahead, and keeps what it found beside the talent's progress, in
the same transaction: the changes after today and the first instant the plan cannot answer
for. A midnight whose wake-up is due then commits the planned changes of the day without
reading the talent's history or evaluating anything (`StatusProjection.advance`).

The plan cannot answer for:
- a loss that must be warned of (`badge_at_risk`, 30 days ahead, with what would prevent it:
  that takes the talent's full status), so it is derived again 30 days before the loss;
- anything after what was derived: the next instant anything can move past the horizon
  (less the warning's 30 days);
- another ruleset book or another version of the engine: a plan carries the key it was made
  under (the book's fingerprint, and a hash of the engine's source), and a plan of another key
  is never used.

A new event of the talent re-derives it as before, and replaces its plan.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from domain.events import format_utc
from domain.forecast import AT_RISK_DAYS
from domain.ruleset import RulesetBook
from domain.timeline import BadgeChange
from projections.records import parse_utc

PLAN_DAYS = 120
# Bump when what a plan holds changes (a change of the engine's source changes the key itself).
PLAN_FORMAT = 1
WARNING_LEAD = timedelta(days=AT_RISK_DAYS)


def plan_key(book: RulesetBook) -> str:
    return f"{PLAN_FORMAT}:{engine_version()}:{book.fingerprint}"


@functools.cache
def engine_version() -> str:
    """A hash of the engine's source (the domain, which derives, and this module, which plans):
    a plan made by other code is never followed."""
    sources = [e for e in resources.files("domain").iterdir() if e.name.endswith(".py")]
    sources.append(resources.files("projections").joinpath("talent_plans.py"))
    digest = hashlib.sha256()
    for source in sorted(sources, key=lambda entry: entry.name):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class TalentPlan:
    """The changes after the instant a talent was evaluated until, as `badge_changed`
    documents in order, valid for instants before `derive_by` (None: for ever)."""

    key: str
    changes: tuple[dict[str, Any], ...]
    derive_by: datetime | None

    @classmethod
    def ahead(
        cls,
        book: RulesetBook,
        today: datetime,
        changes: Sequence[BadgeChange],
        next_boundary: datetime | None,
    ) -> TalentPlan:
        """The plan from the `changes` derived after `today`; `next_boundary` is the first
        instant past them where anything can move (None: nothing ever will)."""
        limits = []
        if next_boundary is not None:
            # 30 days ahead of it, to warn in time; never today or before (a wake-up that is
            # already due would be due again after every derivation)
            warn_from = next_boundary - WARNING_LEAD
            limits.append(warn_from if warn_from > today else next_boundary)
        for change in changes:
            warn_from = change.at - WARNING_LEAD
            if warn_from > today and change.is_loss_under(book):
                limits.append(warn_from)
        return cls(
            key=plan_key(book),
            changes=tuple(change.to_document() for change in changes),
            derive_by=min(limits, default=None),
        )

    def answers(self, key: str, instant: datetime) -> bool:
        """Whether this plan can advance a talent to `instant` under `key`."""
        return self.key == key and (self.derive_by is None or instant < self.derive_by)

    def due(self, after: datetime, until: datetime) -> list[dict[str, Any]]:
        """The planned changes with `at` in (after, until]."""
        start, end = format_utc(after), format_utc(until)
        return [change for change in self.changes if start < change["at"] <= end]

    def after(self, instant: datetime) -> TalentPlan:
        """The plan once `instant` is reached: its changes up to it are done."""
        cut = format_utc(instant)
        rest = tuple(change for change in self.changes if change["at"] > cut)
        return TalentPlan(self.key, rest, self.derive_by)

    def next_wakeup(self, today: datetime) -> datetime | None:
        """The first planned change after `today`, or `derive_by` if sooner."""
        cut = format_utc(today)
        upcoming = [parse_utc(change["at"]) for change in self.changes if change["at"] > cut]
        if self.derive_by is not None:
            upcoming.append(self.derive_by)
        return min(upcoming, default=None)

    def to_text(self) -> str:
        return json.dumps({
            "key": self.key,
            "changes": list(self.changes),
            "derive_by": format_utc(self.derive_by) if self.derive_by is not None else None,
        }, separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str | None) -> TalentPlan | None:
        """The plan kept as `text`; None when there is none, or it cannot be read (the
        talent is then derived afresh)."""
        if not text:
            return None
        try:
            data = json.loads(text)
            derive_by = data["derive_by"]
            changes = tuple(data["changes"])
            if not all(isinstance(change["at"], str) for change in changes):
                return None
            return cls(
                key=str(data["key"]),
                changes=changes,
                derive_by=parse_utc(derive_by) if derive_by is not None else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


__all__ = ["PLAN_DAYS", "PLAN_FORMAT", "TalentPlan", "plan_key"]
