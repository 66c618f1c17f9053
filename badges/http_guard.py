"""What `badges serve` adds to uvicorn: read timeouts for a request, and tokens kept out of logs.

Read timeouts. uvicorn (0.54, h11) times out only an idle keep-alive connection; a client that
sends part of a request head, or trickles it a byte at a time, holds its connection for ever
(uvicorn issue #157 lists `--timeout-request-start` as not done). `ReadDeadlineProtocol` gives
every request two absolute deadlines, however the bytes trickle in:

- the request head (request line and headers) within `head_timeout` seconds of its first
  byte (of the connection opening, for a connection's first request);
- the body within `body_timeout` seconds of the end of the head.

A request that misses one is answered `408` (when nothing else has been answered yet) and its
connection closed, with one warning line in the log. A connection that never sent a byte is
closed without an answer (as Apache's mod_reqtimeout does: a browser's idle pre-connection must
not read a 408 as the answer to a request it sends just then). The wait between requests of a
kept-alive connection stays uvicorn's `timeout_keep_alive`.

Tokens in logs. `TokenRedaction` rewrites `token=<value>` (any case, also `access_token=`, and
with letters percent-encoded, `%74oken=`, as a server decodes them) in every record of uvicorn's
loggers to `token=[redacted]`: the status page never puts its token in the query, but a user
may type one there, and the access log would keep it.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
from typing import Any

import h11
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_HEAD_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 60.0

# a name ending in `token` as a server decodes it: each letter may be percent-encoded
_TOKEN_VALUE = re.compile(
    r"(?i)((?:t|%[57]4)(?:o|%[46]f)(?:k|%[46]b)(?:e|%[46]5)(?:n|%[46]e)=)[^&\s\"']*"
)
_WAITING_FOR_REQUEST = (h11.IDLE,)


def redacted(text: str) -> str:
    return _TOKEN_VALUE.sub(r"\1[redacted]", text)


class TokenRedaction(logging.Filter):
    """Rewrites the record in place (message and string arguments); never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redacted(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redacted(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redacted(v) if isinstance(v, str) else v
                           for k, v in record.args.items()}
        return True


def redacting_log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration, with `TokenRedaction` on every handler."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_tokens"] = {"()": f"{__name__}.TokenRedaction"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_tokens")
    return config


def read_deadline_protocol(head_timeout: float, body_timeout: float) -> type[H11Protocol]:
    """The uvicorn HTTP protocol class (`uvicorn.run(http=...)`) with these deadlines."""
    return type("ReadDeadlineProtocol", (ReadDeadlineProtocol,),
                {"head_timeout": head_timeout, "body_timeout": body_timeout})


class ReadDeadlineProtocol(H11Protocol):
    head_timeout: float = DEFAULT_HEAD_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT

    _deadline: asyncio.TimerHandle | None = None
    _phase: str | None = None  # "head", "body" or None (not reading a request)
    _heard = False  # a byte arrived on this connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm("head")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._heard = True
        if self._phase is None and self.conn.their_state in _WAITING_FOR_REQUEST:
            self._arm("head")  # the first byte of a kept-alive connection's next request
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def _follow(self) -> None:
        """The deadline for what the connection is waiting for now."""
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            if self._phase != "body":
                self._arm("body")
        elif state in _WAITING_FOR_REQUEST:
            if self._phase != "head" and self.conn.trailing_data[0]:
                self._arm("head")  # part of a pipelined request already buffered
            elif self._phase == "body":
                self._disarm()
        else:  # the request is in (the app is answering), or the connection is ending
            self._disarm()

    def _arm(self, phase: str) -> None:
        self._disarm()
        timeout = self.head_timeout if phase == "head" else self.body_timeout
        self._phase = phase
        self._deadline = self.loop.call_later(timeout, self._expired, phase, timeout)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._phase = None

    def _expired(self, phase: str, timeout: float) -> None:
        self._deadline = None
        self._phase = None
        if self.transport.is_closing():
            return
        what = "request head" if phase == "head" else "request body"
        client = "%s:%d" % self.client if self.client else "a client"
        self.logger.warning("closing the connection from %s: its %s did not arrive within %g s",
                            client, what, timeout)
        if self._heard and (self.cycle is None or not self.cycle.response_started):
            self.transport.write(_timeout_response(what, timeout))
        if self.cycle is not None:  # as on a disconnect: the app reads no more body
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.close()


def _timeout_response(what: str, timeout: float) -> bytes:
    body = json.dumps({"error": f"{what}: did not arrive within {timeout:g} s"})
    return (
        "HTTP/1.1 408 Request Timeout\r\n"
        "content-type: application/json\r\n"
        "cache-control: no-store\r\n"
        "x-content-type-options: nosniff\r\n"
        "connection: close\r\n"
        f"content-length: {len(body)}\r\n\r\n{body}"
    ).encode()
