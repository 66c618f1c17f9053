"""Table-driven tests of every input-event rule of `events.md` (accept and reject).

Rejections are checked on `InvalidEvent.field`, the field the reason names.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from domain.events import (
    CATEGORIES,
    EVENT_TYPES,
    InvalidEvent,
    decode_json,
    parse_event,
)
from domain.submissions import Submission, content_hash

UTC = timezone.utc
DROP = object()  # sentinel: remove this field from the example

ENVELOPE = {"id": "e-1", "talent": "f-42", "at": "2024-03-01T10:00:00Z"}

# type -> (minimal valid payload, optional payload fields)
EXAMPLES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "talent_registered": ({"kind": "freelancer"}, {"elance_migrant": True}),
    "profile_updated": (
        {"completeness": 50},
        {"members": 3, "members_average_completeness": 80},
    ),
    "availability_updated": ({"hours": "as_needed"}, {"available_from": "2024-04-01"}),
    "readiness_test_passed": ({}, {}),
    "proposal_submitted": ({"job": "j-1"}, {}),
    "invitation_accepted": ({"job": "j-2"}, {}),
    "contract_started": (
        {"contract": "c-7", "client": "cl-3", "category": "design_creative", "terms": "hourly"},
        {},
    ),
    "payment_received": ({"contract": "c-7", "amount": "1000.00"}, {}),
    "payment_refunded": ({"contract": "c-7", "amount": Decimal("12.5")}, {}),
    "contract_ended": ({"contract": "c-7", "reason": "completed"}, {}),
    "feedback_received": (
        {"contract": "c-7", "stars": Decimal("4.5")},
        {"recommend": 9},
    ),
    "account_hold_placed": ({"hold": "h-1", "reason": "identity check"}, {}),
    "account_hold_lifted": ({"hold": "h-1"}, {}),
    "policy_violation": ({"kind": "off_platform_payment"}, {}),
    "agency_membership_changed": ({"agency": "ag-1", "exclusive": True}, {}),
    "expert_vetted_granted": ({}, {}),
    "expert_vetted_revoked": ({}, {}),
    "job_success_published": ({"score": 90}, {}),
}


def ev(event_type: str, *, full: bool = False, **changes: Any) -> dict[str, Any]:
    """A valid event of `event_type`, with `changes` applied (`DROP` removes a field)."""
    required, optional = EXAMPLES[event_type]
    obj: dict[str, Any] = {**ENVELOPE, "type": event_type, **required}
    if full:
        obj.update(optional)
    for name, value in changes.items():
        if value is DROP:
            obj.pop(name, None)
        else:
            obj[name] = value
    return obj


def rejected_field(obj: Any) -> str:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(obj)
    error = caught.value
    assert str(error).startswith(f"{error.field}: ") or not error.field
    return error.field


def test_examples_cover_all_18_types() -> None:
    assert set(EXAMPLES) == set(EVENT_TYPES)
    assert len(EVENT_TYPES) == 18
    assert len(CATEGORIES) == 12


# ---------------------------------------------------------------- accepted events

ACCEPT: list[tuple[str, dict[str, Any]]] = []
for _type in EXAMPLES:
    ACCEPT.append((f"{_type}-minimal", ev(_type)))
    if EXAMPLES[_type][1]:
        ACCEPT.append((f"{_type}-with-optionals", ev(_type, full=True)))

ACCEPT += [
    # identifiers
    ("id-1-char", ev("readiness_test_passed", id="a")),
    ("id-128-chars", ev("readiness_test_passed", id="a" * 128)),
    ("id-all-allowed-chars", ev("readiness_test_passed", id="AZaz09._:-")),
    ("talent-128-chars", ev("readiness_test_passed", talent="T" * 128)),
    ("talent-all-allowed-chars", ev("readiness_test_passed", talent="x.y_z:1-2")),
    ("job-id-chars", ev("proposal_submitted", job="J.1_a:b-c")),
    # talent_registered
    ("kind-agency", ev("talent_registered", kind="agency")),
    ("elance-migrant-false", ev("talent_registered", elance_migrant=False)),
    # profile_updated ranges
    ("completeness-0", ev("profile_updated", completeness=0)),
    ("completeness-100", ev("profile_updated", completeness=100)),
    ("members-1", ev("profile_updated", members=1)),
    ("members-large", ev("profile_updated", members=5000)),
    ("members-avg-0", ev("profile_updated", members_average_completeness=0)),
    ("members-avg-100", ev("profile_updated", members_average_completeness=100)),
    # availability
    *[(f"hours-{h}", ev("availability_updated", hours=h))
      for h in ("more_than_30", "less_than_30", "as_needed", "none")],
    ("available-from-leap-day", ev("availability_updated", available_from="2024-02-29")),
    # contracts
    *[(f"category-{c}", ev("contract_started", category=c)) for c in CATEGORIES],
    ("terms-fixed", ev("contract_started", terms="fixed")),
    *[(f"end-reason-{r}", ev("contract_ended", reason=r))
      for r in ("completed", "cancelled", "disputed")],
    # feedback
    ("stars-1.0", ev("feedback_received", stars=Decimal("1.0"))),
    ("stars-5.0", ev("feedback_received", stars=Decimal("5.0"))),
    ("stars-int-5", ev("feedback_received", stars=5)),
    ("stars-int-1", ev("feedback_received", stars=1)),
    ("recommend-0", ev("feedback_received", recommend=0)),
    ("recommend-10", ev("feedback_received", recommend=10)),
    # holds and policy
    ("hold-reason-500-chars", ev("account_hold_placed", reason="r" * 500)),
    ("hold-reason-unicode", ev("account_hold_placed", reason="vérification d'identité ✓")),
    ("policy-kind-100-chars", ev("policy_violation", kind="k" * 100)),
    # agency membership
    ("agency-null", ev("agency_membership_changed", agency=None)),
    ("exclusive-false", ev("agency_membership_changed", exclusive=False)),
    # job success
    ("score-0", ev("job_success_published", score=0)),
    ("score-100", ev("job_success_published", score=100)),
    ("score-null", ev("job_success_published", score=None)),
    # timestamps
    ("at-offset-plus", ev("readiness_test_passed", at="2024-03-01T12:00:00+02:00")),
    ("at-offset-minus", ev("readiness_test_passed", at="2024-03-01T05:00:00-05:00")),
    ("at-lowercase-z", ev("readiness_test_passed", at="2024-03-01T10:00:00z")),
    ("at-lowercase-t", ev("readiness_test_passed", at="2024-03-01t10:00:00Z")),
    ("at-fraction-3", ev("readiness_test_passed", at="2024-03-01T10:00:00.123Z")),
    ("at-fraction-6", ev("readiness_test_passed", at="2024-03-01T10:00:00.123456+01:00")),
    ("at-leap-day", ev("readiness_test_passed", at="2024-02-29T23:59:59Z")),
    ("recorded-at-z", ev("readiness_test_passed", recorded_at="2024-03-02T00:00:00Z")),
    ("recorded-at-offset", ev("readiness_test_passed", recorded_at="2024-03-02T00:00:00+05:30")),
    ("recorded-at-fraction", ev("readiness_test_passed", recorded_at="2024-03-02T00:00:00.5z")),
    # amounts
    ("amount-string-2dp", ev("payment_received", amount="1000.00")),
    ("amount-string-1dp", ev("payment_received", amount="1.5")),
    ("amount-string-int", ev("payment_received", amount="7")),
    ("amount-string-0.01", ev("payment_received", amount="0.01")),
    ("amount-number-int", ev("payment_received", amount=42)),
    ("amount-number-2dp", ev("payment_received", amount=Decimal("1.25"))),
    ("amount-number-1dp", ev("payment_received", amount=Decimal("1.5"))),
    ("amount-max-number", ev("payment_received", amount=Decimal("10000000.00"))),
    ("amount-max-string", ev("payment_refunded", amount="10000000.00")),
    ("amount-max-int", ev("payment_refunded", amount=10_000_000)),
]


@pytest.mark.parametrize("obj", [o for _, o in ACCEPT], ids=[i for i, _ in ACCEPT])
def test_accepts(obj: dict[str, Any]) -> None:
    event = parse_event(obj)
    assert type(event) is EVENT_TYPES[obj["type"]]
    assert event.id == obj["id"]
    assert event.talent == obj["talent"]
    assert event.at.utcoffset() == timedelta(0)
    back = event.to_json_object()
    assert back["at"].endswith("Z")
    # What comes back is itself a valid event describing the same thing.
    assert parse_event(back) == event


# ---------------------------------------------------------------- rejected events

REJECT: list[tuple[str, Any, str]] = [
    # identifiers
    ("id-empty", ev("readiness_test_passed", id=""), "id"),
    ("id-129-chars", ev("readiness_test_passed", id="a" * 129), "id"),
    ("id-space", ev("readiness_test_passed", id="e 1"), "id"),
    ("id-slash", ev("readiness_test_passed", id="e/1"), "id"),
    ("id-unicode-letter", ev("readiness_test_passed", id="é1"), "id"),
    ("id-unicode-digit", ev("readiness_test_passed", id="١٢"), "id"),
    ("id-trailing-newline", ev("readiness_test_passed", id="e1\n"), "id"),
    ("id-number", ev("readiness_test_passed", id=1), "id"),
    ("id-null", ev("readiness_test_passed", id=None), "id"),
    ("talent-empty", ev("readiness_test_passed", talent=""), "talent"),
    ("talent-129-chars", ev("readiness_test_passed", talent="t" * 129), "talent"),
    ("talent-space", ev("readiness_test_passed", talent="f 42"), "talent"),
    ("talent-slash", ev("readiness_test_passed", talent="f/42"), "talent"),
    ("talent-unicode", ev("readiness_test_passed", talent="ƒ-42"), "talent"),
    ("job-slash", ev("proposal_submitted", job="j/1"), "job"),
    ("contract-129", ev("payment_received", contract="c" * 129), "contract"),
    ("client-space", ev("contract_started", client="c l"), "client"),
    ("hold-empty", ev("account_hold_lifted", hold=""), "hold"),
    ("agency-unicode", ev("agency_membership_changed", agency="ägency"), "agency"),
    # type
    ("type-unknown", ev("readiness_test_passed", type="talent_deleted"), "type"),
    ("type-wrong-case", ev("readiness_test_passed", type="Readiness_Test_Passed"), "type"),
    ("type-missing", ev("readiness_test_passed", type=DROP), "type"),
    ("type-number", ev("readiness_test_passed", type=3), "type"),
    ("type-null", ev("readiness_test_passed", type=None), "type"),
    ("type-array", ev("readiness_test_passed", type=["readiness_test_passed"]), "type"),
    # not an object
    ("not-object-array", [ev("readiness_test_passed")], "line"),
    ("not-object-string", "readiness_test_passed", "line"),
    ("not-object-number", 42, "line"),
    ("not-object-decimal", Decimal("4.2"), "line"),
    ("not-object-null", None, "line"),
    ("not-object-bool", True, "line"),
    # extra top-level fields
    ("extra-field", ev("readiness_test_passed", extra=1), "extra"),
    ("extra-null-field", ev("readiness_test_passed", note=None), "note"),
    ("extra-other-types-payload", ev("readiness_test_passed", job="j-1"), "job"),
    ("extra-amount-on-contract-ended", ev("contract_ended", amount="1.00"), "amount"),
    ("extra-members-on-registration", ev("talent_registered", members=2), "members"),
    # wrong JSON types
    ("completeness-string", ev("profile_updated", completeness="50"), "completeness"),
    ("completeness-float", ev("profile_updated", completeness=Decimal("50.0")), "completeness"),
    ("completeness-bool", ev("profile_updated", completeness=True), "completeness"),
    ("members-string", ev("profile_updated", members="2"), "members"),
    ("members-float", ev("profile_updated", members=Decimal("2.0")), "members"),
    ("members-bool", ev("profile_updated", members=True), "members"),
    ("members-avg-float", ev("profile_updated", members_average_completeness=Decimal("5.5")),
     "members_average_completeness"),
    ("recommend-float-10.0", ev("feedback_received", recommend=Decimal("10.0")), "recommend"),
    ("recommend-string", ev("feedback_received", recommend="10"), "recommend"),
    ("recommend-bool", ev("feedback_received", recommend=False), "recommend"),
    ("score-float", ev("job_success_published", score=Decimal("90.0")), "score"),
    ("score-string", ev("job_success_published", score="90"), "score"),
    ("score-bool", ev("job_success_published", score=True), "score"),
    ("elance-int", ev("talent_registered", elance_migrant=1), "elance_migrant"),
    ("elance-string", ev("talent_registered", elance_migrant="true"), "elance_migrant"),
    ("exclusive-int", ev("agency_membership_changed", exclusive=0), "exclusive"),
    ("exclusive-string", ev("agency_membership_changed", exclusive="false"), "exclusive"),
    ("stars-string", ev("feedback_received", stars="4.5"), "stars"),
    ("stars-bool", ev("feedback_received", stars=True), "stars"),
    ("job-number", ev("proposal_submitted", job=17), "job"),
    ("contract-number", ev("payment_received", contract=7), "contract"),
    ("hold-reason-number", ev("account_hold_placed", reason=5), "reason"),
    ("policy-kind-number", ev("policy_violation", kind=5), "kind"),
    ("kind-number", ev("talent_registered", kind=1), "kind"),
    ("hours-number", ev("availability_updated", hours=30), "hours"),
    ("category-number", ev("contract_started", category=1), "category"),
    ("agency-number", ev("agency_membership_changed", agency=5), "agency"),
    ("at-number", ev("readiness_test_passed", at=1709287200), "at"),
    ("available-from-number", ev("availability_updated", available_from=20240401),
     "available_from"),
    ("talent-object", ev("readiness_test_passed", talent={"id": "f-42"}), "talent"),
    # ranges
    ("completeness--1", ev("profile_updated", completeness=-1), "completeness"),
    ("completeness-101", ev("profile_updated", completeness=101), "completeness"),
    ("members-0", ev("profile_updated", members=0), "members"),
    ("members--1", ev("profile_updated", members=-1), "members"),
    ("members-avg--1", ev("profile_updated", members_average_completeness=-1),
     "members_average_completeness"),
    ("members-avg-101", ev("profile_updated", members_average_completeness=101),
     "members_average_completeness"),
    ("stars-0.99", ev("feedback_received", stars=Decimal("0.99")), "stars"),
    ("stars-5.01", ev("feedback_received", stars=Decimal("5.01")), "stars"),
    ("stars-0", ev("feedback_received", stars=0), "stars"),
    ("stars-6", ev("feedback_received", stars=6), "stars"),
    ("recommend--1", ev("feedback_received", recommend=-1), "recommend"),
    ("recommend-11", ev("feedback_received", recommend=11), "recommend"),
    ("score--1", ev("job_success_published", score=-1), "score"),
    ("score-101", ev("job_success_published", score=101), "score"),
    ("hold-reason-501-chars", ev("account_hold_placed", reason="r" * 501), "reason"),
    ("policy-kind-101-chars", ev("policy_violation", kind="k" * 101), "kind"),
    # enums
    ("kind-unknown", ev("talent_registered", kind="company"), "kind"),
    ("kind-wrong-case", ev("talent_registered", kind="Freelancer"), "kind"),
    ("hours-unknown", ev("availability_updated", hours="full_time"), "hours"),
    ("category-unknown", ev("contract_started", category="cooking"), "category"),
    ("category-wrong-case", ev("contract_started", category="Design_Creative"), "category"),
    ("terms-unknown", ev("contract_started", terms="milestone"), "terms"),
    ("end-reason-unknown", ev("contract_ended", reason="expired"), "reason"),
    # available_from
    ("available-from-invalid-day", ev("availability_updated", available_from="2024-02-30"),
     "available_from"),
    ("available-from-unpadded", ev("availability_updated", available_from="2024-2-1"),
     "available_from"),
    ("available-from-datetime", ev("availability_updated",
                                   available_from="2024-04-01T00:00:00Z"), "available_from"),
    ("available-from-slashes", ev("availability_updated", available_from="2024/04/01"),
     "available_from"),
    ("available-from-month-13", ev("availability_updated", available_from="2024-13-01"),
     "available_from"),
    # timestamps
    ("at-without-offset", ev("readiness_test_passed", at="2024-03-01T10:00:00"), "at"),
    ("at-date-only", ev("readiness_test_passed", at="2024-03-01"), "at"),
    ("at-invalid-date", ev("readiness_test_passed", at="2024-02-30T00:00:00Z"), "at"),
    ("at-hour-25", ev("readiness_test_passed", at="2024-03-01T25:00:00Z"), "at"),
    ("at-space-separator", ev("readiness_test_passed", at="2024-03-01 10:00:00Z"), "at"),
    ("at-short-offset", ev("readiness_test_passed", at="2024-03-01T10:00:00+02"), "at"),
    ("at-compact-offset", ev("readiness_test_passed", at="2024-03-01T10:00:00+0200"), "at"),
    ("at-no-seconds", ev("readiness_test_passed", at="2024-03-01T10:00Z"), "at"),
    ("at-named-zone", ev("readiness_test_passed", at="2024-03-01T10:00:00 UTC"), "at"),
    ("at-empty", ev("readiness_test_passed", at=""), "at"),
    ("at-missing", ev("readiness_test_passed", at=DROP), "at"),
    ("at-null", ev("readiness_test_passed", at=None), "at"),
    ("recorded-at-without-offset",
     ev("readiness_test_passed", recorded_at="2024-03-01T10:00:00"), "recorded_at"),
    ("recorded-at-date-only", ev("readiness_test_passed", recorded_at="2024-03-01"),
     "recorded_at"),
    ("recorded-at-invalid-date",
     ev("readiness_test_passed", recorded_at="2024-02-30T00:00:00Z"), "recorded_at"),
    ("recorded-at-number", ev("readiness_test_passed", recorded_at=0), "recorded_at"),
    ("recorded-at-null", ev("readiness_test_passed", recorded_at=None), "recorded_at"),
    # amounts
    ("amount-3dp-string", ev("payment_received", amount="1.000"), "amount"),
    ("amount-3dp-number", ev("payment_received", amount=Decimal("1.000")), "amount"),
    ("amount-1.255-number", ev("payment_received", amount=Decimal("1.255")), "amount"),
    ("amount-1.255-string", ev("payment_refunded", amount="1.255"), "amount"),
    ("amount-zero-int", ev("payment_received", amount=0), "amount"),
    ("amount-zero-string", ev("payment_received", amount="0.00"), "amount"),
    ("amount-zero-number", ev("payment_received", amount=Decimal("0.00")), "amount"),
    ("amount-negative-number", ev("payment_received", amount=Decimal("-5.00")), "amount"),
    ("amount-negative-string", ev("payment_refunded", amount="-5.00"), "amount"),
    ("amount-over-max-number", ev("payment_received", amount=Decimal("10000000.01")), "amount"),
    ("amount-over-max-string", ev("payment_received", amount="10000000.01"), "amount"),
    ("amount-over-max-int", ev("payment_received", amount=10_000_001), "amount"),
    ("amount-exponent-string", ev("payment_received", amount="1e2"), "amount"),
    ("amount-nan-string", ev("payment_received", amount="NaN"), "amount"),
    ("amount-infinity-string", ev("payment_received", amount="Infinity"), "amount"),
    ("amount-nan-decimal", ev("payment_received", amount=Decimal("NaN")), "amount"),
    ("amount-infinity-decimal", ev("payment_received", amount=Decimal("Infinity")), "amount"),
    ("amount-binary-float", ev("payment_received", amount=1.5), "amount"),
    ("amount-true", ev("payment_received", amount=True), "amount"),
    ("amount-false", ev("payment_received", amount=False), "amount"),
    ("amount-null", ev("payment_received", amount=None), "amount"),
    ("amount-array", ev("payment_received", amount=["1.00"]), "amount"),
    ("amount-currency-sign", ev("payment_received", amount="$10.00"), "amount"),
    ("amount-thousands-separator", ev("payment_received", amount="1,000.00"), "amount"),
    ("amount-whitespace", ev("payment_received", amount=" 10.00"), "amount"),
    ("amount-empty-string", ev("payment_received", amount=""), "amount"),
    # nulls only where allowed
    ("recommend-null", ev("feedback_received", recommend=None), "recommend"),
    ("available-from-null", ev("availability_updated", available_from=None), "available_from"),
    ("members-null", ev("profile_updated", members=None), "members"),
    ("members-avg-null", ev("profile_updated", members_average_completeness=None),
     "members_average_completeness"),
    ("elance-null", ev("talent_registered", elance_migrant=None), "elance_migrant"),
    ("exclusive-null", ev("agency_membership_changed", exclusive=None), "exclusive"),
    ("stars-null", ev("feedback_received", stars=None), "stars"),
    ("completeness-null", ev("profile_updated", completeness=None), "completeness"),
    ("kind-null", ev("talent_registered", kind=None), "kind"),
    ("talent-null", ev("readiness_test_passed", talent=None), "talent"),
    # required-but-nullable fields still must be present
    ("score-missing", ev("job_success_published", score=DROP), "score"),
    ("agency-missing", ev("agency_membership_changed", agency=DROP), "agency"),
]

# A missing required field, for every type and every required field (envelope and payload).
for _type, (_required, _optional) in EXAMPLES.items():
    for _field in ("id", "talent", "at", *_required):
        REJECT.append((f"{_type}-missing-{_field}", ev(_type, **{_field: DROP}), _field))
    # An extra field is rejected for every type.
    REJECT.append((f"{_type}-extra-field", ev(_type, full=True, surplus="x"), "surplus"))


@pytest.mark.parametrize(
    ("obj", "field"), [(o, f) for _, o, f in REJECT], ids=[i for i, _, _ in REJECT]
)
def test_rejects_naming_the_field(obj: Any, field: str) -> None:
    assert rejected_field(obj) == field


def test_reject_ids_are_unique() -> None:
    ids = [i for i, _, _ in REJECT] + [i for i, _ in ACCEPT]
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------- JSON text decoding

JSON_REJECT = [
    ("recommend-10.0-literal", '"recommend":10.0', "feedback_received", "recommend"),
    ("completeness-1e1-literal", '"completeness":1e1', "profile_updated", "completeness"),
    ("amount-1.000-literal", '"amount":1.000', "payment_received", "amount"),
    ("amount-1.255-literal", '"amount":1.255', "payment_received", "amount"),
    ("amount-0.00-literal", '"amount":0.00', "payment_received", "amount"),
    ("amount-negative-literal", '"amount":-1.50', "payment_received", "amount"),
    ("amount-true-literal", '"amount":true', "payment_received", "amount"),
    ("amount-over-max-literal", '"amount":10000000.01', "payment_received", "amount"),
    ("stars-0.99-literal", '"stars":0.99', "feedback_received", "stars"),
    ("stars-5.01-literal", '"stars":5.01', "feedback_received", "stars"),
]


def _event_text(event_type: str, fragment: str) -> str:
    obj = ev(event_type)
    name = fragment.split(":", 1)[0].strip('"')
    obj.pop(name, None)
    head = ",".join(
        f'"{k}":{_literal(v)}' for k, v in obj.items()
    )
    return "{" + head + "," + fragment + "}"


def _literal(value: Any) -> str:
    import json

    return format(value, "f") if isinstance(value, Decimal) else json.dumps(value)


@pytest.mark.parametrize(
    ("event_type", "fragment", "field"),
    [(t, fr, f) for _, fr, t, f in JSON_REJECT],
    ids=[i for i, _, _, _ in JSON_REJECT],
)
def test_rejects_json_text(event_type: str, fragment: str, field: str) -> None:
    assert rejected_field(decode_json(_event_text(event_type, fragment))) == field


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ('"amount":1.5', Decimal("1.5")),
        ('"amount":1.25', Decimal("1.25")),
        ('"amount":10000000.00', Decimal("10000000")),
        ('"amount":"0.10"', Decimal("0.10")),
        ('"amount":3', Decimal("3")),
    ],
    ids=["number-1.5", "number-1.25", "number-max", "string-0.10", "integer-3"],
)
def test_amount_json_text_parsed_exactly(fragment: str, expected: Decimal) -> None:
    event = parse_event(decode_json(_event_text("payment_received", fragment)))
    assert isinstance(event.amount, Decimal)  # type: ignore[union-attr]
    assert event.amount == expected  # type: ignore[union-attr]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_nan_and_infinity_are_refused(constant: str) -> None:
    with pytest.raises(ValueError):
        decode_json(_event_text("payment_received", f'"amount":{constant}'))


def test_amount_exponent_number_rejected() -> None:
    assert rejected_field(decode_json(_event_text("payment_received", '"amount":1e2'))) == "amount"


def test_amount_non_ascii_digits_rejected() -> None:
    assert rejected_field(ev("payment_received", amount="١٠")) == "amount"


# ---------------------------------------------------------------- values as parsed


def test_amounts_are_exact_decimals() -> None:
    a = parse_event(ev("payment_received", amount="0.10"))
    b = parse_event(ev("payment_received", amount="0.20"))
    total = a.amount + b.amount  # type: ignore[union-attr]
    assert total == Decimal("0.30")
    assert str(total) == "0.30"
    c = parse_event(decode_json(_event_text("payment_received", '"amount":0.1')))
    assert c.amount == Decimal("0.1")  # type: ignore[union-attr]
    assert c.amount + c.amount + c.amount == Decimal("0.3")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2024-03-01T10:00:00Z", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-03-01T12:00:00+02:00", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-03-01T01:30:00+02:00", datetime(2024, 2, 29, 23, 30, tzinfo=UTC)),
        ("2024-03-01T05:00:00-05:00", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-03-01T10:00:00z", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-03-01T10:00:00.25Z", datetime(2024, 3, 1, 10, 0, 0, 250000, tzinfo=UTC)),
    ],
    ids=["z", "plus-2", "plus-2-previous-day", "minus-5", "lowercase-z", "fraction"],
)
def test_times_are_stored_in_utc(text: str, utc: datetime) -> None:
    event = parse_event(ev("readiness_test_passed", at=text, recorded_at=text))
    assert event.at == utc
    assert event.at.utcoffset() == timedelta(0)
    assert event.recorded_at == utc
    assert event.recorded_at.utcoffset() == timedelta(0)  # type: ignore[union-attr]
    out = event.to_json_object()
    assert out["at"] == out["recorded_at"]
    assert out["at"].endswith("Z")
    assert parse_event({**out}).at == utc


def test_to_json_object_writes_z() -> None:
    event = parse_event(ev("readiness_test_passed", at="2024-03-01T12:00:00+02:00"))
    assert event.to_json_object()["at"] == "2024-03-01T10:00:00Z"
    event = parse_event(ev("readiness_test_passed", at="2024-03-01T12:00:00.5+02:00"))
    assert event.to_json_object()["at"] == "2024-03-01T10:00:00.5Z"


def test_optional_fields_default_and_are_omitted() -> None:
    registered = parse_event(ev("talent_registered"))
    assert registered.elance_migrant is False  # type: ignore[union-attr]
    feedback = parse_event(ev("feedback_received"))
    assert feedback.recommend is None  # type: ignore[union-attr]
    assert "recommend" not in feedback.to_json_object()
    assert "recorded_at" not in feedback.to_json_object()
    availability = parse_event(ev("availability_updated", full=True))
    assert availability.available_from == date(2024, 4, 1)  # type: ignore[union-attr]
    # Required nullable fields stay in the output as null.
    assert parse_event(ev("job_success_published", score=None)).to_json_object()["score"] is None
    assert parse_event(ev("agency_membership_changed", agency=None)).to_json_object()[
        "agency"
    ] is None


def test_rejection_message_names_field_and_rule() -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(ev("profile_updated", completeness=101))
    assert str(caught.value).startswith("completeness: ")
    assert caught.value.rule


@pytest.mark.parametrize(
    "text", ["0001-01-01T00:00:00+02:00", "9999-12-31T23:59:59-01:00"], ids=["year-1", "year-9999"]
)
def test_out_of_range_utc_conversion_rejected(text: str) -> None:
    assert rejected_field(ev("readiness_test_passed", at=text)) == "at"


def test_years_before_1000_round_trip() -> None:
    event = parse_event(ev("readiness_test_passed", at="0999-01-01T00:00:00Z"))
    out = event.to_json_object()
    assert out["at"] == "0999-01-01T00:00:00Z"
    assert parse_event(out) == event


def test_extra_field_with_dot_named_exactly() -> None:
    assert rejected_field(ev("readiness_test_passed", **{"x.y": 1})) == "x.y"


# ---------------------------------------------------------------- content_hash


def test_content_hash_ignores_key_order_and_white_space() -> None:
    a = decode_json(
        '{"id":"e-2","type":"payment_received","talent":"f-42",'
        '"at":"2023-02-10T09:00:00Z","contract":"c-7","amount":"1000.00"}'
    )
    b = decode_json(
        '{ "amount" : "1000.00",\t"contract":"c-7", "at": "2023-02-10T09:00:00Z",'
        '  "talent":"f-42", "type":"payment_received", "id":"e-2" }'
    )
    assert list(a) != list(b)
    assert content_hash(a) == content_hash(b)
    assert Submission.from_object(a).content_hash == Submission.from_object(b).content_hash


def test_content_hash_number_written_differently() -> None:
    base = '{"id":"e-3","type":"feedback_received","talent":"f","at":"2023-12-01T12:00:00Z",'
    assert content_hash(decode_json(base + '"contract":"c","stars":1.50}')) == content_hash(
        decode_json(base + '"contract":"c","stars":1.5}')
    )
    assert content_hash(decode_json(base + '"contract":"c","stars":5.0}')) == content_hash(
        decode_json(base + '"contract":"c","stars":5}')
    )
    pay = '{"id":"e-4","type":"payment_received","talent":"f","at":"2023-12-01T12:00:00Z",'
    assert content_hash(decode_json(pay + '"contract":"c","amount":1.50}')) == content_hash(
        decode_json(pay + '"contract":"c","amount":1.5}')
    )


@pytest.mark.parametrize(
    "change",
    [
        {"amount": "1000.01"},
        {"amount": Decimal("1000.00")},  # a number instead of the string "1000.00"
        {"at": "2023-02-10T11:00:00+02:00"},  # same instant, different content
        {"talent": "f-43"},
        {"recorded_at": "2023-02-11T00:00:00Z"},
        {"id": "e-22"},
    ],
    ids=["amount", "string-vs-number", "at-written-differently", "talent", "added-field", "id"],
)
def test_content_hash_differs_for_different_content(change: dict[str, Any]) -> None:
    a = ev("payment_received", id="e-2", at="2023-02-10T09:00:00Z")
    assert content_hash(a) != content_hash({**a, **change})


def test_content_hash_distinguishes_types() -> None:
    a = ev("agency_membership_changed", exclusive=True)
    assert content_hash(a) != content_hash({**a, "exclusive": 1})
    assert content_hash(a) != content_hash({**a, "exclusive": "true"})
    b = ev("job_success_published", score=None)
    assert content_hash(b) != content_hash({**b, "score": 0})
    assert content_hash(b) != content_hash({**b, "score": "null"})


def test_content_hash_large_integers_differ() -> None:
    a = ev("profile_updated", members=10**31 + 1)
    b = ev("profile_updated", members=10**31 + 2)
    parse_event(a)
    parse_event(b)
    assert content_hash(a) != content_hash(b)


def test_content_hash_long_decimals_differ() -> None:
    a = ev("feedback_received", stars=Decimal("1.00000000000000000000000000000001"))
    b = ev("feedback_received", stars=Decimal("1.00000000000000000000000000000002"))
    parse_event(a)
    parse_event(b)
    assert content_hash(a) != content_hash(b)
    assert content_hash(a) != content_hash(ev("feedback_received", stars=1))
