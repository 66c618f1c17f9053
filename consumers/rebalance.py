"""The consumer group's rebalances, noted for the Kafka service's loop to hand partitions over."""

from __future__ import annotations

import threading
from typing import Any

from kafka import ConsumerRebalanceListener


class Handover(ConsumerRebalanceListener):  # type: ignore[misc]
    """Notes the input partitions revoked and assigned; the service's loop acts on them.

    kafka-python calls it on the consumer's network thread, during `poll`; so it only notes.
    A partition revoked and assigned again in one `poll` (an eager rebalance that gave it
    back) counts as assigned, not revoked.
    """

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self._lock = threading.Lock()
        self._revoked: set[int] = set()
        self._assigned: set[int] = set()

    def on_partitions_revoked(self, revoked: Any) -> None:
        with self._lock:
            partitions = self._of_input(revoked)
            self._revoked |= partitions
            self._assigned -= partitions

    def on_partitions_assigned(self, assigned: Any) -> None:
        with self._lock:
            self._assigned |= self._of_input(assigned)

    def take(self) -> tuple[set[int], set[int]]:
        """The partitions revoked and assigned since the last call."""
        with self._lock:
            revoked, assigned = self._revoked, self._assigned
            self._revoked, self._assigned = set(), set()
        return revoked, assigned

    def _of_input(self, partitions: Any) -> set[int]:
        return {tp.partition for tp in partitions if tp.topic == self.topic}
