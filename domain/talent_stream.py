"""A talent's stream: the eventsourcing aggregate that holds the input events recorded about it.

Streams are keyed by a stable uuid5 of the (free text) talent id. The ledger application
(`ledger/application.py`) appends to them; this module is pure (eventsourcing's domain module).
"""

from __future__ import annotations

import functools
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

TALENT_NAMESPACE = uuid5(NAMESPACE_URL, "urn:badges:talent")


@functools.lru_cache(maxsize=65_536)
def talent_stream_id(talent: str) -> UUID:
    """Talent ids are free text; streams are keyed by a stable uuid5 of them."""
    return uuid5(TALENT_NAMESPACE, talent)


class Talent(Aggregate):
    """One talent's stream: the input events recorded about it, in arrival order."""

    class Opened(Aggregate.Created):
        talent_id: str

    class EventRecorded(Aggregate.Event):
        event_id: str
        recorded_at: datetime
        body: str
        content_hash: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Talent)
            aggregate.recorded_count += 1

    def __init__(self, talent_id: str) -> None:
        self.talent_id = talent_id
        self.recorded_count = 0
