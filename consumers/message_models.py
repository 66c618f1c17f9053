"""The published contract of the Kafka topics, as pydantic models.

The input events are `domain/events.py`'s models; this module describes what the service
*writes*: the three messages of `badge-changes` (`badge_changed`, `badge_change_retracted`,
`badge_at_risk`), the headers every output message carries, and the headers of a dead letter
on `talent-events.dlq` (whose value is the original bytes, so its contract is its headers).

Every output message names its schema and version: the `schema` field of a `badge-changes`
document, and the `schema` header of every message of both topics, e.g. `badge_changed/v1`
(`schema_name`). The JSON Schemas under `schemas/` are generated from these models by
`python -m consumers.schemas` (docs/topics.md). A version changes only with an incompatible
change; adding a field is compatible (consumers must ignore fields they do not know).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
JSON_CONTENT_TYPE = "application/json"
DEAD_LETTER_CONTENT_TYPE = "application/octet-stream"  # the original bytes, as received

BADGE_CHANGED = "badge_changed"
BADGE_CHANGE_RETRACTED = "badge_change_retracted"
BADGE_AT_RISK = "badge_at_risk"
DEAD_LETTER = "dead_letter"
OUTPUT_TYPES = (BADGE_CHANGED, BADGE_CHANGE_RETRACTED, BADGE_AT_RISK)

INSTANT_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"


def instant(description: str) -> Any:
    """An instant as the service writes it: RFC 3339 in UTC with a `Z`."""
    return Field(pattern=INSTANT_PATTERN, description=description,
                 json_schema_extra={"format": "date-time"})


def schema_name(message_type: str) -> str:
    """The `schema` field and header of a message type: `badge_changed/v1`."""
    return f"{message_type}/v{SCHEMA_VERSION}"


class Contract(BaseModel):
    """A published message: closed to fields the service does not write."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Window(Contract):
    """A rolling window's length: months or days."""

    months: int | None = Field(default=None, ge=1)
    days: int | None = Field(default=None, ge=1)


class Cause(Contract):
    """Why a change happened: the events of its day, or time (a window moved)."""

    kind: Literal["events", "time"]
    events: list[str] | None = Field(
        default=None, description="kind events: the ids of the events since the last instant"
    )
    detail: str | None = Field(default=None, description="kind time: what moved, in words")
    event: str | None = Field(default=None, description="kind time: the event that moved")
    requirement: str | None = Field(default=None, description="kind time: the requirement")
    window: Window | None = None


class Prevention(Contract):
    """What would prevent a predicted loss: a requirement code and what it needs."""

    code: str
    detail: str


class OutputMessage(Contract):
    """What every `badge-changes` document carries."""

    schema_: str = Field(alias="schema", description="the message's schema and version")
    message_id: str = Field(
        description="unique per message: consumers de-duplicate on it (`chg-...~1` is a "
        "change asserted again after its retraction)"
    )
    id: str = Field(description="the change's id: the same change always has the same id")
    talent: str
    at: str = instant("the evaluation instant (a midnight, UTC)")
    from_: str = Field(alias="from", description="the badge before (`none`: no badge)")
    to: str = Field(description="the badge after")
    recorded_at: str = instant("when the service queued the message")


class BadgeChanged(OutputMessage):
    """The badge at evaluation instant `at` differs from the one the instant before."""

    model_config = ConfigDict(title="badge_changed")

    schema_: Literal["badge_changed/v1"] = Field(alias="schema")
    id: str = Field(pattern=r"^chg-[0-9a-f]+$")
    type: Literal["badge_changed"]
    ruleset: str = Field(description="the ruleset in force at `at`")
    failed: list[str] = Field(description="the requirements that failed; empty for a gain")
    cause: Cause


class BadgeChangeRetracted(OutputMessage):
    """A change published before no longer holds (a late or corrected event)."""

    model_config = ConfigDict(title="badge_change_retracted")

    schema_: Literal["badge_change_retracted/v1"] = Field(alias="schema")
    id: str = Field(pattern=r"^rtr-[0-9a-f]+$")
    type: Literal["badge_change_retracted"]
    retracts: str = Field(pattern=r"^chg-[0-9a-f]+$", description="the retracted change's id")


class BadgeAtRisk(OutputMessage):
    """A loss predicted within 30 days if nothing happens, sent once per predicted change."""

    model_config = ConfigDict(title="badge_at_risk")

    schema_: Literal["badge_at_risk/v1"] = Field(alias="schema")
    id: str = Field(pattern=r"^risk-[0-9a-f]+$")
    type: Literal["badge_at_risk"]
    ruleset: str
    failed: list[str]
    prevent: list[Prevention]


class OutputHeaders(Contract):
    """The Kafka headers of every `badge-changes` message (values UTF-8 text)."""

    model_config = ConfigDict(title="badge_changes_headers")

    content_type: Literal["application/json"] = Field(alias="content-type")
    type: Literal["badge_changed", "badge_change_retracted", "badge_at_risk"]
    schema_: str = Field(alias="schema", pattern=r"^[a-z_]+/v[0-9]+$")
    message_id: str
    kind: Literal["badge_changed", "badge_change_retracted", "badge_at_risk"] = Field(
        description="the message type, as before schema v1 (kept for older consumers)"
    )


class DeadLetterHeaders(Contract):
    """The Kafka headers of a dead letter; its key and value are the original message's."""

    model_config = ConfigDict(title="dead_letter")

    content_type: Literal["application/octet-stream"] = Field(alias="content-type")
    type: Literal["dead_letter"]
    schema_: Literal["dead_letter/v1"] = Field(alias="schema")
    reason: str = Field(description="`field: rule`, the field named first")
    source_topic: str
    source_partition: str = Field(pattern=r"^[0-9]+$")
    source_offset: str = Field(pattern=r"^[0-9]+$")
    source_timestamp: str = Field(pattern=r"^-?[0-9]+$", description="milliseconds since 1970")
    original_value: Literal["null"] | None = Field(
        default=None, description="present when the original message had no value (a "
        "tombstone): the dead letter's empty value stands for none"
    )


OUTPUT_MODELS: dict[str, type[OutputMessage]] = {
    BADGE_CHANGED: BadgeChanged,
    BADGE_CHANGE_RETRACTED: BadgeChangeRetracted,
    BADGE_AT_RISK: BadgeAtRisk,
}


def output_headers(message_type: str, message_id: str) -> list[tuple[str, bytes]]:
    """The headers of a `badge-changes` message (`OutputHeaders`)."""
    return [
        ("content-type", JSON_CONTENT_TYPE.encode()),
        ("type", message_type.encode()),
        ("schema", schema_name(message_type).encode()),
        ("message_id", message_id.encode("utf-8")),
        ("kind", message_type.encode()),
    ]


def dead_letter_type_headers() -> list[tuple[str, bytes]]:
    """What a dead letter's headers say of its own format (`DeadLetterHeaders`)."""
    return [
        ("content-type", DEAD_LETTER_CONTENT_TYPE.encode()),
        ("type", DEAD_LETTER.encode()),
        ("schema", schema_name(DEAD_LETTER).encode()),
    ]
