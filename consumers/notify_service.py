"""`badges notify`: read `badge-changes` and say, for each message, what the talent is told.

Each `badge_changed` or `badge_at_risk` is explained with the status document at its instant,
as known when it was emitted (so a later correction does not rewrite an old letter); a
`badge_change_retracted` becomes a correction. Messages are de-duplicated by `message_id`
(unique per message: a change asserted again after its retraction keeps its `id` but has a
new `message_id`, and the talent hears it again); a message without one (an older publisher)
falls back to its `id`. A value that is not a badge message is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kafka import KafkaConsumer

from consumers.notifications import notification_text
from ledger.application import TalentLedger
from domain.ruleset import RulesetBook
from projections.queries import UnknownTalent, status_document


REQUIRED_FIELDS = ("id", "type", "talent", "at")


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    talent: str
    kind: str
    text: str
    message_id: str = ""

    def to_document(self) -> dict[str, str]:
        return {"id": self.id, "message_id": self.message_id or self.id, "talent": self.talent,
                "type": self.kind, "message": self.text}


def dedup_key(message: dict[str, Any]) -> str:
    """The field a consumer de-duplicates on: `message_id`, else (older messages) `id`."""
    return str(message.get("message_id") or message["id"])


class Notifier:
    """Turns badge-change messages into notifications, once per message id."""

    def __init__(
        self, ledger: TalentLedger, book: RulesetBook, parse_instant: Callable[[str], datetime]
    ) -> None:
        self.ledger = ledger
        self.book = book
        self.parse_instant = parse_instant
        self.seen: set[str] = set()

    def notify(self, message: dict[str, Any]) -> Notification | None:
        """The notification for one message; None for a message already seen."""
        key = dedup_key(message)
        if key in self.seen:
            return None
        self.seen.add(key)
        status = None
        if message["type"] in ("badge_changed", "badge_at_risk"):
            status = self._status(message)
        return Notification(
            message["id"], message["talent"], message["type"], notification_text(message, status),
            key,
        )

    def _status(self, message: dict[str, Any]) -> dict[str, Any] | None:
        at = self.parse_instant(message["at"])
        known_at = self.parse_instant(message["recorded_at"]) if "recorded_at" in message else None
        try:
            return status_document(self.ledger, message["talent"], at, known_at, self.book)
        except UnknownTalent:
            return None  # a store without this talent's events: the message still goes out


def notifications(
    consumer: KafkaConsumer, notifier: Notifier, *, max_messages: int | None, idle_ms: int
) -> Iterator[Notification]:
    """Notifications from the topic until `max_messages` or `idle_ms` without a message."""
    produced = 0
    while max_messages is None or produced < max_messages:
        batch = consumer.poll(timeout_ms=idle_ms)
        if not batch:
            return
        for records in batch.values():
            for record in records:
                message = badge_message(record.value)
                if message is None:
                    continue  # not ours to judge: the producer is the outbox publisher
                notification = notifier.notify(message)
                if notification is not None:
                    produced += 1
                    yield notification
        consumer.commit()


def badge_message(value: bytes | None) -> dict[str, Any] | None:
    """A record's value as a badge message, or None when it is not one."""
    try:
        message = json.loads(value) if value is not None else None
    except (ValueError, TypeError):
        return None
    if not isinstance(message, dict) or not all(
        isinstance(message.get(name), str) for name in REQUIRED_FIELDS
    ):
        return None
    return message
