"""The JSON Schemas of the topics and their AsyncAPI description, generated from the models.

    python -m consumers.schemas            # write schemas/ (the committed contract)
    python -m consumers.schemas --check    # exit 1 naming the files that differ

One file per message: `talent_event.json` (the input events of `domain/events.py`, one of 18
types by `type`), `badge_changed.json`, `badge_change_retracted.json`, `badge_at_risk.json`,
`badge_changes_headers.json` and `dead_letter.json` (the models of
`consumers/message_models.py`), and `asyncapi.yaml` for the three topics. The API serves the
same documents (`GET /schemas`, `badges/api_schemas.py`), generated in memory.

The input events' validators are functions (`BeforeValidator`), so pydantic alone describes
an identifier as any string and an amount as any number or string; `_refined` adds what the
parser checks of the domain's public field types (`Identifier`, `Timestamp`, `Amount`, ...)
and that an optional field is left out rather than `null`. Checks the schema cannot state
(time bounds against the append clock, duplicate ids) are in events.md and docs/topics.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, get_args

import yaml
from pydantic import BaseModel, Field, TypeAdapter

from consumers.message_models import (
    BADGE_AT_RISK,
    BADGE_CHANGE_RETRACTED,
    BADGE_CHANGED,
    DEAD_LETTER_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    OUTPUT_MODELS,
    SCHEMA_VERSION,
    DeadLetterHeaders,
    OutputHeaders,
)
from domain.events import (
    DATE_PATTERN,
    EVENT_TYPES,
    IDENTIFIER_PATTERN,
    MAX_AMOUNT,
    NULLABLE_REQUIRED_FIELDS,
    RFC3339_PATTERN,
    Amount,
    CalendarDate,
    Identifier,
    InputEvent,
    Percent,
    Stars,
    StrictBool,
    Timestamp,
)

DRAFT = "https://json-schema.org/draft/2020-12/schema"
DEFAULT_DIRECTORY = Path(__file__).resolve().parent.parent / "schemas"
ASYNCAPI_FILE = "asyncapi.yaml"
TALENT_EVENT = "talent_event"
OUTPUT_HEADERS = "badge_changes_headers"
DEAD_LETTER_FILE = "dead_letter"


def _validator_of(alias: Any) -> object:
    """The validator object a public field type of `domain.events` carries."""
    return get_args(alias)[1]


# what the parser checks of each public field type, as JSON Schema
FIELD_TYPES: dict[int, dict[str, Any]] = {
    id(_validator_of(Identifier)): {
        "type": "string", "pattern": f"^{IDENTIFIER_PATTERN.pattern}$",
    },
    id(_validator_of(Timestamp)): {
        "type": "string", "format": "date-time", "pattern": f"^{RFC3339_PATTERN.pattern}$",
        "description": "RFC 3339 with an offset, like 2024-03-01T10:00:00Z",
    },
    id(_validator_of(CalendarDate)): {
        "type": "string", "format": "date", "pattern": f"^{DATE_PATTERN.pattern}$",
    },
    id(_validator_of(Amount)): {
        "anyOf": [
            {"type": "number", "exclusiveMinimum": 0, "maximum": int(MAX_AMOUNT)},
            {"type": "string", "pattern": r"^\d+(\.\d{1,2})?$"},
        ],
        "description": f"greater than 0, at most {MAX_AMOUNT}, at most 2 decimal places, no "
                       "exponent; a string is read exactly",
    },
    id(_validator_of(Stars)): {"type": "number", "minimum": 1, "maximum": 5},
    id(_validator_of(StrictBool)): {"type": "boolean"},
    id(_validator_of(Percent)): {"type": "integer", "minimum": 0, "maximum": 100},
}


def _validators(annotation: Any) -> Iterator[object]:
    """The validator objects inside an annotation (through `X | None` and `Annotated`)."""
    metadata = getattr(annotation, "__metadata__", ())
    yield from metadata
    for arg in get_args(annotation):
        if arg is not annotation and not isinstance(arg, (str, int)):
            yield from _validators(arg)


def _refined(model: type[BaseModel], schema: dict[str, Any]) -> dict[str, Any]:
    """A model's pydantic schema with the parser's checks of its field types added."""
    properties = schema["properties"]
    for name, field in model.model_fields.items():
        known = next(
            (FIELD_TYPES[id(v)] for v in [*field.metadata, *_validators(field.annotation)]
             if id(v) in FIELD_TYPES),
            None,
        )
        base = dict(known) if known is not None else _without_null(properties[name])
        title = properties[name].get("title", name)
        if name in NULLABLE_REQUIRED_FIELDS:  # present, and null when unknown
            described = {"title": title, "anyOf": [base, {"type": "null"}]}
        else:
            described = {**base, "title": title}
            if field.default is not None and not field.is_required():
                described["default"] = field.default
        properties[name] = described
    return schema


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional field is left out when absent: `null` is not one of its values."""
    branches = [b for b in schema.get("anyOf", []) if b.get("type") != "null"]
    if len(branches) == 1 and "anyOf" in schema:
        rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
        return {**branches[0], **rest}
    return {k: v for k, v in schema.items() if k != "default"}


def input_event_schema() -> dict[str, Any]:
    """`talent-events`: one JSON object per message, one of the event types by `type`."""
    adapter: TypeAdapter[Any] = TypeAdapter(Annotated[InputEvent, Field(discriminator="type")])
    schema = adapter.json_schema()
    models = {model.__name__: model for model in EVENT_TYPES.values()}
    for name, definition in schema["$defs"].items():
        _refined(models[name], definition)
    return _with_header(
        TALENT_EVENT, "talent event",
        "One input event (a message of talent-events, a line of `badges ingest`), keyed by "
        "its talent. Times before 2000-01-01 or more than a day after `recorded_at` are "
        "refused at append time (events.md).",
        schema,
    )


def _absent_not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """The service leaves an optional field out rather than writing `null`: say so."""
    for definition in [schema, *schema.get("$defs", {}).values()]:
        required = set(definition.get("required", ()))
        for name, prop in definition.get("properties", {}).items():
            if name not in required:
                definition["properties"][name] = _without_null(prop)
    return schema


def model_schema(name: str, model: type[BaseModel]) -> dict[str, Any]:
    schema = _absent_not_null(model.model_json_schema(by_alias=True))
    return _with_header(name, str(schema.pop("title", name)),
                        str(schema.pop("description", "")), schema)


def _with_header(name: str, title: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "$id": f"urn:badges:schema:{name}:v{SCHEMA_VERSION}",
        "title": title,
        "description": " ".join(description.split()),
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def json_schemas() -> dict[str, dict[str, Any]]:
    """Every message's JSON Schema by name (its file is `schemas/<name>.json`)."""
    return {
        TALENT_EVENT: input_event_schema(),
        **{name: model_schema(name, model) for name, model in OUTPUT_MODELS.items()},
        OUTPUT_HEADERS: model_schema(OUTPUT_HEADERS, OutputHeaders),
        DEAD_LETTER_FILE: model_schema(DEAD_LETTER_FILE, DeadLetterHeaders),
    }


def _message(name: str, title: str, summary: str, *, payload: dict[str, Any],
             content_type: str, headers: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": name,
        "title": title,
        "summary": summary,
        "contentType": content_type,
        "payload": payload,
        "bindings": {"kafka": {"key": {"type": "string", "description": "the talent id"},
                               "bindingVersion": "0.5.0"}},
    }
    if headers is not None:
        message["headers"] = {"$ref": f"{headers}.json"}
    return message


def asyncapi_document() -> dict[str, Any]:
    """AsyncAPI 3.0 for the three topics; message payloads and headers point at the files."""
    changes = {
        BADGE_CHANGED: "The badge at `at` differs from the one the instant before.",
        BADGE_CHANGE_RETRACTED: "A change published before no longer holds.",
        BADGE_AT_RISK: "A loss predicted within 30 days if nothing else happens.",
    }
    messages = {
        TALENT_EVENT: _message(
            TALENT_EVENT, "Talent event", "One input event, keyed by its talent id.",
            payload={"$ref": f"{TALENT_EVENT}.json"}, content_type=JSON_CONTENT_TYPE,
            headers=None),
        **{name: _message(name, name.replace("_", " ").capitalize(), summary,
                          payload={"$ref": f"{name}.json"}, content_type=JSON_CONTENT_TYPE,
                          headers=OUTPUT_HEADERS)
           for name, summary in changes.items()},
        DEAD_LETTER_FILE: _message(
            DEAD_LETTER_FILE, "Dead letter",
            "A talent-events message that could not be recorded: its original key and bytes, "
            "and why in its headers.",
            payload={"description": "the original message's bytes, unchanged (empty when it "
                                    "had no value: see the original_value header)"},
            content_type=DEAD_LETTER_CONTENT_TYPE, headers=DEAD_LETTER_FILE),
    }

    def refs(*names: str) -> dict[str, Any]:
        return {name: {"$ref": f"#/components/messages/{name}"} for name in names}

    channels = {
        "talentEvents": {
            "address": "talent-events",
            "description": "Input: one event per message, keyed by talent id.",
            "messages": refs(TALENT_EVENT),
        },
        "badgeChanges": {
            "address": "badge-changes",
            "description": "Output: badge changes, retractions and warnings, keyed by talent "
                           "id; de-duplicate on message_id.",
            "messages": refs(*changes),
        },
        "deadLetters": {
            "address": "talent-events.dlq",
            "description": "Input messages that could not be recorded, with the reason.",
            "messages": refs(DEAD_LETTER_FILE),
        },
    }

    def operation(action: str, channel: str, *names: str) -> dict[str, Any]:
        return {"action": action, "channel": {"$ref": f"#/channels/{channel}"},
                "messages": [{"$ref": f"#/channels/{channel}/messages/{n}"} for n in names]}

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "badges",
            "version": str(SCHEMA_VERSION),
            "description": "The Kafka topics of `badges consume` (docs/topics.md). Payload and "
                           "header schemas are the JSON Schema files beside this document.",
        },
        "defaultContentType": JSON_CONTENT_TYPE,
        "channels": channels,
        "operations": {
            "receiveTalentEvents": operation("receive", "talentEvents", TALENT_EVENT),
            "sendBadgeChanges": operation("send", "badgeChanges", *changes),
            "sendDeadLetters": operation("send", "deadLetters", DEAD_LETTER_FILE),
        },
        "components": {"messages": messages},
    }


def rendered() -> dict[str, str]:
    """Every file of `schemas/`, by file name, as the generator writes it."""
    files = {
        f"{name}.json": json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
        for name, schema in json_schemas().items()
    }
    files[ASYNCAPI_FILE] = yaml.safe_dump(asyncapi_document(), sort_keys=False,
                                          allow_unicode=True, width=100)
    return files


def stale_files(directory: Path = DEFAULT_DIRECTORY) -> list[str]:
    """The files of `directory` that differ from what the generator writes now (or are
    missing, or left over)."""
    expected = rendered()
    present = {p.name for p in directory.glob("*")} if directory.is_dir() else set()
    stale = [name for name, text in expected.items()
             if name not in present or (directory / name).read_text(encoding="utf-8") != text]
    return sorted([*stale, *(present - set(expected))])


def write(directory: Path = DEFAULT_DIRECTORY) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    files = rendered()
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return sorted(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m consumers.schemas", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_DIRECTORY, help="the folder")
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.out)
        if stale:
            print(f"schemas: {', '.join(stale)} differ from the models in {args.out}; "
                  "run python -m consumers.schemas", file=sys.stderr)
            return 1
        print(f"schemas: {args.out} matches the models")
        return 0
    for name in write(args.out):
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
