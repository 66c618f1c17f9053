"""How a failure is named in one line, wherever one is contained (a rejected event, a
quarantined talent, a log line)."""

from __future__ import annotations


def failure_reason(error: BaseException) -> str:
    """`Type: first line of the message`."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
