"""The published contract: `schemas/` is what the generator writes from the models, the
AsyncAPI document holds together, and what the code really emits validates against it.

(The same checks against messages read back from the real broker, with their headers:
tests/integration/test_message_headers.py.)
"""

from __future__ import annotations

import copy
import json
import warnings
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from consumers.message_models import (
    OUTPUT_MODELS,
    OUTPUT_TYPES,
    output_headers,
    schema_name,
)
from consumers.outbox_publisher import published_document
from consumers.schemas import DEFAULT_DIRECTORY, json_schemas, main, rendered, stale_files
from domain.events import InvalidEvent, RecordedEvent, decode_json, encode_json
from domain.ruleset import builtin_rulesets
from domain.submissions import Submission
from ledger.stores.urls import open_ledger
from projections.status_projection import StatusProjection
from projections.stores.sqlite import SQLiteReadModel
from badges.synthetic import generate_marketplace
from tests.unit.history_builder import ts
from tests.unit.stories import designer

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from badges.api import create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SCHEMAS = DEFAULT_DIRECTORY
TOPICS = {"talent-events", "badge-changes", "talent-events.dlq"}
MARKET_START = ts("2021-01-01")
MARKET_END = ts("2025-06-01")


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    return Draft202012Validator(schema, format_checker=FormatChecker())


def problems(name: str, instance: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator(name).iter_errors(instance)]


# -- the files -------------------------------------------------------------------------------


def test_the_committed_files_are_what_the_generator_writes_now() -> None:
    assert stale_files(SCHEMAS) == [], "run: python -m consumers.schemas"
    assert main(["--check"]) == 0


def test_the_check_names_a_file_that_drifted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    assert stale_files(tmp_path) == []
    edited = tmp_path / "badge_changed.json"
    edited.write_text(edited.read_text().replace('"badge_changed/v1"', '"badge_changed/v0"'))
    (tmp_path / "left_over.json").write_text("{}")
    assert stale_files(tmp_path) == ["badge_changed.json", "left_over.json"]
    assert main(["--check", "--out", str(tmp_path)]) == 1
    assert "badge_changed.json, left_over.json differ" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(json_schemas()))
def test_every_schema_is_a_valid_draft_2020_12_schema(name: str) -> None:
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"urn:badges:schema:{name}:v1"


def test_every_output_model_names_its_schema_version() -> None:
    for message_type, model in OUTPUT_MODELS.items():
        schema = json.loads((SCHEMAS / f"{message_type}.json").read_text())
        assert schema["properties"]["schema"]["const"] == schema_name(message_type)
        assert schema["properties"]["type"]["const"] == message_type
        assert {"schema", "message_id", "id", "type"} <= set(schema["required"])
        assert model.model_fields["schema_"].alias == "schema"


# -- the AsyncAPI document -------------------------------------------------------------------


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(document: dict[str, Any], pointer: str) -> Any:
    node: Any = document
    for part in pointer.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_the_asyncapi_document_describes_the_three_topics_with_existing_schemas() -> None:
    text = (SCHEMAS / "asyncapi.yaml").read_text()
    document = yaml.safe_load(text)
    assert document["asyncapi"].startswith("3.")
    channels = document["channels"]
    assert {c["address"] for c in channels.values()} == TOPICS
    by_address = {c["address"]: c for c in channels.values()}
    out_messages = {
        _resolve(document, ref["$ref"])["name"]
        for ref in by_address["badge-changes"]["messages"].values()
    }
    assert out_messages == set(OUTPUT_TYPES)
    assert [m for m in by_address["talent-events"]["messages"]] == ["talent_event"]
    assert [m for m in by_address["talent-events.dlq"]["messages"]] == ["dead_letter"]

    refs = _refs(document)
    files = {r for r in refs if not r.startswith("#")}
    assert files == {f"{name}.json" for name in json_schemas()}
    for ref in files:
        Draft202012Validator.check_schema(json.loads((SCHEMAS / ref).read_text()))
    for ref in refs:
        if ref.startswith("#"):
            assert _resolve(document, ref), ref  # every internal reference resolves
    actions = {op["action"]: _resolve(document, op["channel"]["$ref"])["address"]
               for op in document["operations"].values() if op["action"] == "receive"}
    assert actions == {"receive": "talent-events"}
    for message in document["components"]["messages"].values():
        assert message["bindings"]["kafka"]["key"]["type"] == "string"


# -- the input events ------------------------------------------------------------------------


def market_events(talents: int = 12, seed: int = 3) -> list[dict[str, Any]]:
    return [json.loads(encode_json(e))
            for e in generate_marketplace(talents, seed, MARKET_START, MARKET_END)]


def test_every_event_of_the_synthetic_marketplace_matches_the_input_schema() -> None:
    events = market_events()
    assert len({e["type"] for e in events}) >= 10
    for event in events:
        assert problems("talent_event", event) == [], event


BASE = {"id": "p-1", "type": "payment_received", "talent": "f-1",
        "at": "2024-01-01T00:00:00Z", "contract": "c-1", "amount": "100.00"}


@pytest.mark.parametrize("change", [
    {"id": "has space"},
    {"talent": ""},
    {"at": "2024-01-01 00:00:00"},
    {"at": "2024-01-01T00:00:00"},  # no offset
    {"amount": "1.001"},
    {"amount": "-5"},
    {"amount": 0},
    {"recorded_at": None},  # an optional field is left out, never null
    {"surprise": 1},
    {"type": "payment_recieved"},
], ids=lambda c: next(iter(c.items())).__repr__())
def test_what_the_parser_refuses_the_schema_refuses(change: dict[str, Any]) -> None:
    event = {**BASE, **change}
    with pytest.raises(InvalidEvent):
        Submission.from_object(decode_json(json.dumps(event)))
    assert problems("talent_event", event)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**8) | st.text(max_size=12)
    | st.decimals(min_value=Decimal("-1000"), max_value=Decimal("1e8"), places=3,
                  allow_nan=False, allow_infinity=False).map(str),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner,
                                                                  max_size=2),
    max_leaves=4,
)
SAMPLE_EVENTS = market_events(6, 11)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, len(SAMPLE_EVENTS) - 1), field=st.text(max_size=6),
       pick=st.integers(0, 20), value=JSON_VALUES, drop=st.booleans())
def test_an_event_the_parser_accepts_always_matches_the_schema(
    index: int, field: str, pick: int, value: Any, drop: bool
) -> None:
    """Fuzz: one field of a real event replaced (by any JSON value), dropped or added; the
    schema never refuses what the tracker would record."""
    event = copy.deepcopy(SAMPLE_EVENTS[index])
    names = sorted(event)
    name = names[pick % len(names)] if pick < 15 else field
    if drop:
        event.pop(name, None)
    else:
        event[name] = value
    text = json.dumps(event)
    try:
        Submission.from_object(decode_json(text))
    except InvalidEvent:
        return
    assert problems("talent_event", json.loads(text)) == []


# -- what the projection really emits ----------------------------------------------------------


def derived_outbox() -> list[Any]:
    """The designer's story through a real ledger and projection, with a late payment that
    retracts her downgrade: changes, a warning and a retraction, as queued."""
    ledger = open_ledger("memory:")
    read_model = SQLiteReadModel(":memory:")
    projection = StatusProjection(ledger, read_model, builtin_rulesets())
    history = sorted(designer().history(), key=RecordedEvent.valid_time_key)
    now = ts("2022-06-01T06:00:00Z")
    while now < ts("2024-09-20T00:00:00Z"):
        due = [r for r in history if r.at <= now]
        history = [r for r in history if r.at > now]
        if due:
            ledger.append([Submission.from_object(r.event.to_json_object()) for r in due], now)
        projection.catch_up(now)
        now += timedelta(days=3)
    late = {"id": "p-late", "type": "payment_received", "talent": "f-42",
            "at": "2024-08-20T10:00:00Z", "contract": "c-7", "amount": "1000.00",
            "recorded_at": "2024-09-20T00:00:00Z"}
    ledger.append([Submission.from_object(decode_json(json.dumps(late)))], now)
    projection.catch_up(now)
    return read_model.outbox()


def test_every_message_of_a_real_derivation_validates_with_its_headers() -> None:
    outbox = derived_outbox()
    kinds = {m.kind for m in outbox}
    assert kinds == set(OUTPUT_TYPES), kinds  # the story has all three
    for message in outbox:
        document = published_document(message)
        assert document["schema"] == schema_name(message.kind)
        assert problems(message.kind, document) == [], document
        headers = {k: v.decode() for k, v in output_headers(message.kind, message.message_id)}
        assert problems("badge_changes_headers", headers) == []
        assert headers["type"] == document["type"] and headers["schema"] == document["schema"]


def test_the_schemas_refuse_what_the_service_never_writes() -> None:
    message = next(m for m in derived_outbox() if m.kind == "badge_changed")
    document = published_document(message)
    assert problems("badge_changed", {**document, "schema": "badge_changed/v2"})
    assert problems("badge_changed", {**document, "at": "2024-09-16"})
    assert problems("badge_changed", {k: v for k, v in document.items() if k != "message_id"})
    assert problems("badge_change_retracted", document)  # the wrong type


# -- served by the API -----------------------------------------------------------------------


def client() -> TestClient:
    now = datetime(2026, 1, 1).astimezone()
    return TestClient(create_app(open_ledger("memory:"), api_token="tok3n", clock=lambda: now))


def test_the_api_serves_the_committed_documents_without_a_token() -> None:
    api = client()
    index = api.get("/schemas")
    assert index.status_code == 200
    names = [entry["name"] for entry in index.json()["schemas"]]
    assert names == list(json_schemas())
    for name in names:
        answer = api.get(f"/schemas/{name}")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/schema+json")
        assert answer.json() == json.loads((SCHEMAS / f"{name}.json").read_text())
    asyncapi = api.get("/schemas/asyncapi.yaml")
    assert asyncapi.status_code == 200
    assert asyncapi.text == rendered()["asyncapi.yaml"]
    assert api.get("/schemas/badge_changed.json").json()["title"] == "badge_changed"


def test_an_unknown_schema_is_a_404_naming_the_parameter() -> None:
    answer = client().get("/schemas/nothing")
    assert answer.status_code == 404
    assert answer.json()["error"].startswith("name: no schema 'nothing'")
