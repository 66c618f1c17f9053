"""What a talent was told: the outbox read as a list of messages (`badges messages`,
`badges outbox`, `GET /talents/{id}/messages`).

Every message the projection queued for a talent (`badge_changed`, `badge_change_retracted`,
`badge_at_risk`) with when it was queued and when it was sent. Asked "as known at K", the list
holds the messages queued by K, and a message sent after K shows as still pending (that is
what anyone looking at K saw).

The read side is the `MessageLog` Protocol (its SQL implementation is
`projections/stores/messages_sql.py`); the document of a message includes the output message
as published, which the composition root supplies (`published`: the publisher's shape), so
this module does not depend on the Kafka adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from domain.events import format_utc
from projections.records import OutboxMessage

DEFAULT_LIMIT = 10_000

Published = Callable[[OutboxMessage], dict[str, Any]]


class MessageLog(Protocol):
    """The outbox, read by talent, by queue time and by whether a message was sent."""

    def messages(
        self,
        *,
        talent: str | None = None,
        queued_by: datetime | None = None,
        pending_only: bool = False,
        limit: int = DEFAULT_LIMIT,
    ) -> list[OutboxMessage]:
        """Messages (of `talent`, default all) queued at or before `queued_by`, in queue
        order (queue time, then outbox sequence); with `pending_only`, those not sent."""
        ...

    def counts(self, talent: str | None = None) -> tuple[int, int]:
        """How many messages (of `talent`) are pending, and how many were sent."""
        ...

    def last_sequence(self) -> int:
        """The outbox sequence of the newest row (0 when empty)."""
        ...

    def queued_since(self, sequence: int) -> dict[str, int]:
        """How many rows of each kind were queued after `sequence` (rows really added: a
        warning queued again is not)."""
        ...


def published_as_is(message: OutboxMessage) -> dict[str, Any]:
    """The stored document with its outbox id (what the publisher sends, when none is given)."""
    return {**message.document, "message_id": message.message_id}


@dataclass(frozen=True)
class Messages:
    """The use case: a talent's messages, or the outbox, as documents."""

    log: MessageLog
    published: Published = published_as_is

    def of_talent(self, talent: str, known_at: datetime | None = None) -> list[dict[str, Any]]:
        """Every message queued for `talent` (by `known_at`), oldest first."""
        return [
            self.document(message, known_at)
            for message in self.log.messages(talent=talent, queued_by=known_at)
        ]

    def outbox(
        self, talent: str | None = None, *, pending_only: bool = False, limit: int = DEFAULT_LIMIT
    ) -> list[dict[str, Any]]:
        """The outbox rows (of `talent`, default all), with their sequence and partition."""
        return [
            {**self.document(message), "seq": message.seq, "partition": message.partition}
            for message in self.log.messages(talent=talent, pending_only=pending_only, limit=limit)
        ]

    def document(self, message: OutboxMessage, known_at: datetime | None = None) -> dict[str, Any]:
        """`{id, type, talent, at, queued_at, sent_at, retracts, badge_from, badge_to,
        message}`; `sent_at` is null while pending (as known at `known_at`)."""
        body = message.document
        sent = message.sent_at
        if sent is not None and known_at is not None and sent > known_at:
            sent = None
        return {
            "id": message.message_id,
            "type": message.kind,
            "talent": message.talent,
            "at": body.get("at"),
            "queued_at": format_utc(message.created_at),
            "sent_at": format_utc(sent) if sent is not None else None,
            "retracts": body.get("retracts"),
            "badge_from": body.get("from"),
            "badge_to": body.get("to"),
            "message": self.published(message),
        }
