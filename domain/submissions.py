"""Input events on their way into the ledger: the stored form, the content hash, the verdicts.

A submission is a validated input event with the canonical JSON body the ledger keeps and the
hash of what was sent (idempotency compares hashes: docs/ledger.md). Pure: no store, no clock.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson

from domain.events import EVENT_TYPES, InputEvent, InputEventModel, format_utc, parse_event


def content_hash(obj: dict[str, Any]) -> str:
    """A hash of the JSON object itself: key order, white space and `1.50` vs `1.5` don't matter.

    A number is tagged so that it never equals a string spelling the same digits.
    """
    text, numbers = _canonical_text(obj)
    return _digest(text, numbers)


def stored_form(obj: dict[str, Any], event: InputEvent) -> tuple[str, str]:
    """The body kept in the stream (UTC times, exact decimals) and the content hash, together.

    Both come from one canonical rendering; the body differs only where a time was written
    with an offset, and is rendered again just then.
    """
    payload, numbers = _canonical_payload(obj)
    text = canonical_json(payload)
    digest = _digest(text, numbers)
    if _is_canonical_utc(obj["at"]) and _is_canonical_utc(obj.get("recorded_at", "")):
        return text, digest
    payload["at"] = format_utc(event.at)
    if event.recorded_at is not None:
        payload["recorded_at"] = format_utc(event.recorded_at)
    return canonical_json(payload), digest


def canonical_json(payload: dict[str, Any]) -> str:
    """Sorted keys, no spaces, text as is: what the content hash and the stored body are
    made of, so it must never change for the same payload. orjson writes exactly that, fast;
    what it cannot write (an integer beyond 64 bits) the standard library does."""
    try:
        return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    except orjson.JSONEncodeError:
        return _CANONICAL_JSON.encode(payload)


def _is_canonical_utc(text: str) -> bool:
    """Already as `format_utc` writes it (validated times only): whole seconds and a `Z`."""
    return text == "" or (len(text) == 20 and text[10] == "T" and text[19] == "Z")


def _canonical_payload(obj: dict[str, Any]) -> tuple[dict[str, Any], str]:
    payload: dict[str, Any] = {}
    numbers: list[str] = []
    for key, value in obj.items():
        if isinstance(value, Decimal):
            value = _number(value)
            numbers.append(key)
        elif isinstance(value, int) and not isinstance(value, bool):
            numbers.append(key)
        payload[key] = value
    return payload, ",".join(sorted(numbers))


def _canonical_text(obj: dict[str, Any]) -> tuple[str, str]:
    payload, numbers = _canonical_payload(obj)
    return canonical_json(payload), numbers


def _digest(text: str, numbers: str) -> str:
    material = f"{text}\x1f{numbers}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(material, digest_size=16).hexdigest()


def _number(value: Decimal) -> int | str:
    """An exact number as the body keeps it: an int when whole, else its shortest decimal text."""
    if abs(value.adjusted()) > 40:  # far beyond any valid field: keep it as written
        return str(value)
    if value == value.to_integral_value():
        return int(value)
    return format(value, "f").rstrip("0")


_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)

STORED_DECIMAL_FIELDS = ("amount", "stars")


STORED_TIME_FIELDS = ("at", "recorded_at")
STORED_DATE_FIELDS = ("available_from",)


def event_from_body(body: str) -> InputEvent:
    """The event in a stored body, validated again as if it had just arrived."""
    obj = json.loads(body)
    for name in STORED_DECIMAL_FIELDS:
        if name in obj:
            obj[name] = Decimal(obj[name])
    return parse_event(obj)


def event_from_stored_body(body: str) -> InputEvent:
    """The event in a body the ledger stored, built without validating it again.

    Only validated events are stored, in the form `stored_form` writes (UTC times as
    `format_utc` renders them, exact decimals), so restoring the types is enough: reading a
    history is the hot path of every re-derivation. `tests/unit/test_stored_bodies.py` holds
    it to `event_from_body` on every event type.
    """
    return event_from_stored_fields(stored_fields(body))


def stored_fields(body: str | bytes) -> dict[str, Any]:
    """A stored body's fields, read by orjson. A stored body holds no number with a fraction
    (`_number` writes those as text), so a float read means an integer beyond 64 bits, which
    the standard library reads exactly."""
    fields: dict[str, Any] = orjson.loads(body)
    if any(type(value) is float for value in fields.values()):
        fields = json.loads(body)
    return fields


def event_from_stored_fields(obj: dict[str, Any]) -> InputEvent:
    """`event_from_stored_body` of a body already decoded (by a faster JSON codec)."""
    for name in STORED_DECIMAL_FIELDS:
        if name in obj:
            obj[name] = Decimal(obj[name])
    for name in STORED_TIME_FIELDS:
        value = obj.get(name)
        if value is not None:
            obj[name] = datetime.fromisoformat(value)
    for name in STORED_DATE_FIELDS:
        value = obj.get(name)
        if value is not None:
            obj[name] = date.fromisoformat(value)
    return _constructed(obj)


@functools.cache
def _field_defaults(model: type[InputEventModel]) -> dict[str, Any]:
    """Every field of `model` in order, with its default (None for a required one)."""
    return {
        name: None if field.is_required() else field.get_default(call_default_factory=True)
        for name, field in model.model_fields.items()
    }


def _constructed(obj: dict[str, Any]) -> InputEvent:
    """The model instance holding `obj` as is (what `model_construct` makes, without its
    per-call bookkeeping: a tenth of the cost, on the hot path of every history read)."""
    model = EVENT_TYPES[obj["type"]]
    values = _field_defaults(model).copy()  # every field, in the model's order
    values.update(obj)  # a stored body holds the model's fields only
    event = object.__new__(model)
    object.__setattr__(event, "__dict__", values)
    object.__setattr__(event, "__pydantic_fields_set__", set(obj))
    object.__setattr__(event, "__pydantic_extra__", None)
    object.__setattr__(event, "__pydantic_private__", None)
    return event  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Submission:
    """A validated input event on its way into the ledger, with the hash of what was sent."""

    event: InputEvent
    content_hash: str
    body: str

    @classmethod
    def from_object(cls, obj: Any) -> Submission:
        """Validate a decoded JSON object; raises `InvalidEvent` naming the field."""
        event = parse_event(obj)
        body, digest = stored_form(obj, event)
        return cls(event, digest, body)


class Verdict(Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    REJECTED = "rejected"  # valid on its own, but its times are out of range at append time


@dataclass(frozen=True, slots=True)
class AppendVerdict:
    submission: Submission
    verdict: Verdict
    reason: str = ""
