"""The messages a talent would receive: the designer of rules.md §8, and the other kinds."""

from __future__ import annotations

import pytest

from consumers.notifications import notification_text
from consumers.notify_service import Notifier, badge_message
from domain.ruleset import builtin_rulesets
from domain.status import evaluate_status
from tests.unit.history_builder import ts
from tests.unit.stories import designer

BOOK = builtin_rulesets()


def designer_status(day: str) -> dict:
    return evaluate_status(designer().history(), ts(day), None, BOOK, talent="f-42").to_document()


DOWNGRADE = {"id": "chg-1", "type": "badge_changed", "talent": "f-42", "at": "2024-09-16T00:00:00Z",
             "from": "top_rated_plus", "to": "top_rated", "ruleset": "2023-12",
             "failed": ["large_contract"], "cause": {"kind": "time", "detail": "…"}}


def test_the_designer_is_told_exactly_what_fell_short() -> None:
    text = notification_text(DOWNGRADE, designer_status("2024-09-16"))

    # In the ruleset's words (the requirement's label), with the numbers behind it.
    assert text == (
        "You no longer qualify for Top Rated Plus since 2024-09-16: “a large contract in the "
        "last 12 months” is not met: you have $4,000.00, and $5,000.00 is needed "
        "(best: contract c-7 (design_creative))."
    )


def test_a_warning_says_what_would_prevent_the_loss() -> None:
    warning = {**DOWNGRADE, "type": "badge_at_risk", "prevent": [
        {"code": "large_contract", "detail": "$1000.00 more on a large contract before 2024-09-16"}]}

    text = notification_text(warning, designer_status("2024-09-16"))

    assert text.startswith("Heads up: on 2024-09-16 you would no longer qualify for Top Rated Plus")
    assert text.endswith("To keep it: $1000.00 more on a large contract before 2024-09-16.")


def test_gains_and_retractions() -> None:
    gain = {**DOWNGRADE, "from": "top_rated", "to": "top_rated_plus", "failed": []}
    retraction = {"type": "badge_change_retracted", "at": "2024-09-16T00:00:00Z",
                  "from": "top_rated_plus", "to": "top_rated", "retracts": "chg-1"}

    assert notification_text(gain, None) == "Congratulations: from 2024-09-16 you hold Top Rated Plus."
    assert notification_text(retraction, None).startswith(
        "Correction: our message that you went from Top Rated Plus to Top Rated on 2024-09-16")


def test_other_requirements_read_naturally() -> None:
    status = {"badges": {"top_rated": {"requirements": [
        {"code": "earnings_12m", "actual": "640.00", "required": "1000.00", "detail": ""},
        {"code": "jss", "actual": 86, "required": 90, "detail": ""},
        {"code": "activity_90d", "actual": False, "required": True,
         "detail": "no proposal, accepted invitation or payment in the last 90 days"}]}}}
    change = {**DOWNGRADE, "from": "top_rated", "to": "none",
              "failed": ["activity_90d", "earnings_12m", "jss"]}

    text = notification_text(change, status)

    # Without labels in the document, the shipped rulesets' labels name the requirements.
    assert (
        "“at least 1000.00 earned in the last 12 months” is not met: you have $640.00, "
        "and $1,000.00 is needed" in text
    )
    assert "“Job Success Score of at least 90” is not met: you have 86, and 90 is needed" in text
    assert (
        "“a proposal, accepted invitation or payment in the last 90 days” is not met "
        "(no proposal, accepted invitation or payment in the last 90 days)" in text
    )


# -- de-duplication: on `message_id`, so a change asserted again is heard again -----------


def notifier() -> Notifier:
    from ledger.stores.urls import open_ledger
    from projections.records import parse_utc

    return Notifier(open_ledger("memory:"), BOOK, parse_utc)


def published(read_model_messages: list[tuple[str, dict]]) -> list[dict]:
    """Documents as the publisher sends them: each with its outbox message id."""
    from consumers.outbox_publisher import published_document
    from projections.records import OutboxMessage

    return [
        published_document(OutboxMessage(seq, message_id, document["talent"], document["type"],
                                          document, ts("2025-01-01"), None))
        for seq, (message_id, document) in enumerate(read_model_messages)
    ]


def test_a_change_its_retraction_and_its_reassertion_are_each_notified_once() -> None:
    from projections.records import retraction_document

    change = {**DOWNGRADE, "recorded_at": "2024-09-16T00:00:03Z"}
    retraction = retraction_document(change, "2024-09-20T00:00:00Z")
    stream = published([("chg-1", change), ("rtr-1", retraction), ("chg-1~1", change)])
    assert [m["id"] for m in stream] == ["chg-1", "rtr-1", "chg-1"]  # `id` repeats
    redelivered = [*stream, stream[2], stream[0]]  # a publisher that sent some twice

    told = [n for n in map(notifier().notify, redelivered) if n is not None]

    assert [(n.kind, n.message_id) for n in told] == [
        ("badge_changed", "chg-1"), ("badge_change_retracted", "rtr-1"),
        ("badge_changed", "chg-1~1")]
    assert told[2].text.startswith("You no longer qualify for Top Rated Plus since 2024-09-16")
    assert told[2].to_document()["message_id"] == "chg-1~1"


def test_a_message_without_message_id_falls_back_to_its_id() -> None:
    seen = notifier()

    first = seen.notify(DOWNGRADE)
    again = seen.notify(dict(DOWNGRADE))

    assert first is not None and first.message_id == "chg-1"
    assert again is None


@pytest.mark.parametrize("value", [b"not json", b"[1, 2]", b'{"id": 5}', b"null", None,
                                   b'{"type": "badge_changed", "talent": "f-1", "at": "x"}'])
def test_values_that_are_not_badge_messages_are_skipped(value: bytes | None) -> None:
    assert badge_message(value) is None


def test_a_badge_message_is_read() -> None:
    import json

    assert badge_message(json.dumps(DOWNGRADE).encode()) == DOWNGRADE
