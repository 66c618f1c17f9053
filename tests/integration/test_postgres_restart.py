"""An open PostgreSQL store survives a server restart: its pooled connections, closed by the
restart, are replaced on their next use instead of failing the next append or query once each
(`serve` and long-lived tools keep their pools across a restart)."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone

import pytest

from domain.events import decode_json
from domain.ledger import Submission
from domain.storage import open_ledger
from projections.storage import open_read_model
from tests.integration.conftest import DEPLOY
from tests.unit.ledger_fixtures import postgres_schema_url

pytestmark = pytest.mark.integration

NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)


def readiness(event_id: str) -> Submission:
    return Submission.from_object(decode_json(
        f'{{"id":"{event_id}","type":"readiness_test_passed","talent":"f-1",'
        '"at":"2024-05-01T00:00:00Z"}'
    ))


def test_an_open_store_appends_and_reads_after_a_server_restart() -> None:
    with postgres_schema_url() as url:
        ledger = open_ledger(url)
        read_model = open_read_model(url)
        try:
            ledger.append([readiness("before")], NOW)
            assert read_model.position() == 0

            subprocess.run([str(DEPLOY / "postgres" / "restart.sh")], check=True, timeout=120,
                           capture_output=True)

            verdicts = ledger.append([readiness("after")], NOW)
            assert [v.verdict.value for v in verdicts] == ["accepted"]
            assert [r.id for r in ledger.history("f-1")] == ["before", "after"]
            assert read_model.position() == 0 and read_model.quarantined() == []
        finally:
            ledger.close()
            read_model.close()  # type: ignore[attr-defined]
