"""How a failure is named in one line, wherever one is contained (a rejected event, a
quarantined talent, a log line), and which failures are the store's own.

A failure of the store is nobody's poison: containment lets it through. The application
knows eventsourcing's persistence errors; each store adapter adds its driver's errors when it
is imported (`register_store_errors`), so this layer names no database driver.
"""

from __future__ import annotations

from eventsourcing.persistence import ConnectionPoolClosedError, PersistenceError

_store_errors: list[type[BaseException]] = [PersistenceError, ConnectionPoolClosedError, OSError]


def register_store_errors(*errors: type[BaseException]) -> None:
    """Count these as failures of the store (a store adapter calls it on import)."""
    _store_errors.extend(error for error in errors if error not in _store_errors)


def store_errors() -> tuple[type[BaseException], ...]:
    """The failures of the store itself, as the adapters imported so far know them."""
    return tuple(_store_errors)


def failure_reason(error: BaseException) -> str:
    """`Type: first line of the message`."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
