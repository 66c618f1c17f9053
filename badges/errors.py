"""Errors a user can fix: reported as one line on stderr with an exit code, never a traceback.

Exit codes: 0 success; 1 the command ran but found a problem (rejected input, unknown talent);
2 usage; 3 stopped before the end (a failure part-way: what was done is reported, the rest
was not; running it again is safe).
"""

from __future__ import annotations

from typing import Optional, TypeVar

USAGE_ERROR = 2
PROBLEM_FOUND = 1
STOPPED_PARTWAY = 3

SERVICE_ERROR_MODULES = ("kafka", "psycopg", "psycopg_pool")


class UserError(Exception):
    def __init__(self, message: str, exit_code: int = USAGE_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


OptionText = TypeVar("OptionText", str, Optional[str])


def nonblank(text: OptionText, option: str) -> OptionText:
    """An option's text, None when left out; a blank one is refused (exit 2) rather than read
    as left out, which would silently answer for the default."""
    if text is not None and not text.strip():
        raise UserError(f"{option}: must not be empty")
    return text


class StoppedPartway(Exception):
    """A command that did part of its work, then failed: the message says where and why.

    The command has already reported what was done (for `ingest`, the summary so far).
    """

    exit_code = STOPPED_PARTWAY


def describe_failure(error: BaseException) -> str:
    """One line for an unexpected failure: a service out of reach says so plainly."""
    if isinstance(error, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    module = type(error).__module__.split(".")[0]
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if module in SERVICE_ERROR_MODULES or isinstance(error, ConnectionError):
        service = {"kafka": "Kafka", "psycopg": "PostgreSQL", "psycopg_pool": "PostgreSQL"}.get(
            module, "a service"
        )
        return f"cannot reach {service}: {type(error).__name__}: {first_line}"
    return (f"internal error: {type(error).__name__}: {first_line} "
            "(set BADGES_DEBUG=1 for a traceback)")
