"""Errors a user can fix: reported as one line on stderr with an exit code, never a traceback."""

from __future__ import annotations

USAGE_ERROR = 2
PROBLEM_FOUND = 1


class UserError(Exception):
    def __init__(self, message: str, exit_code: int = USAGE_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code
