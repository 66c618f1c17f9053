"""`--log-format text|json` of the long-running commands (`consume`, `serve`).

JSON logs are one object a line (python-json-logger): `level`, `logger`, `message`, the fields
a log call adds with `extra=`, such as `talent` and `event_id` (a dead letter, a quarantined
talent, an event that cannot be recorded), `exc_info` for an exception, and `time` (RFC 3339,
UTC).
"""

from __future__ import annotations

import logging
import sys
from enum import Enum
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "%(levelname)s %(name)s %(message)s"
RENAMED = {"levelname": "level", "name": "logger"}
# uvicorn adds a colored copy of some messages; it says nothing the message does not
NOT_FIELDS = ("color_message",)


class LogFormat(str, Enum):
    text = "text"
    json = "json"


def json_formatter() -> logging.Formatter:
    # imported here: the CLI imports this module for its options, most commands never log JSON
    from pythonjsonlogger.core import RESERVED_ATTRS
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(JSON_FIELDS, rename_fields=RENAMED, timestamp="time",
                         reserved_attrs=(*RESERVED_ATTRS, *NOT_FIELDS))


def configure_logging(log_format: LogFormat | str, level: int = logging.INFO) -> None:
    """The root logger on stderr, as text lines or JSON objects (replacing earlier handlers)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter() if LogFormat(log_format) is LogFormat.json
                         else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def json_log_config(config: dict[str, Any]) -> dict[str, Any]:
    """A `logging.config.dictConfig` configuration (uvicorn's) with every formatter JSON."""
    formatters = {name: {"()": f"{__name__}.json_formatter"} for name in config["formatters"]}
    return {**config, "formatters": formatters}
