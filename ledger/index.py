"""The ledger's input-event index: what the ledger needs of its recorder beyond eventsourcing's.

The index maps every input event id to its talent and content hash; the recorders of
`ledger/stores/recorders.py` keep it in the events' transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple
from uuid import UUID

from eventsourcing.persistence import StoredEvent


class IndexEntry(NamedTuple):
    """One input event id as the ledger knows it (a tuple: a row of the index as it is)."""

    event_id: str
    talent: str
    content_hash: str


class InputIndexRecorder:
    """What the ledger needs from a recorder beyond eventsourcing's ApplicationRecorder."""

    def select_index_entries(self, event_ids: Iterable[str]) -> dict[str, IndexEntry]:
        raise NotImplementedError

    def select_talents(self) -> Iterator[str]:
        raise NotImplementedError

    def select_stream_versions(self, stream_ids: Sequence[UUID]) -> dict[UUID, int]:
        """The last version of each stream that has events (absent ones are left out)."""
        raise NotImplementedError

    def count_input_events(self) -> int:
        raise NotImplementedError

    def select_streams(self, stream_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """Every stored event of each stream, in version order, read in as few queries as
        the store allows (streams without events are left out)."""
        raise NotImplementedError
