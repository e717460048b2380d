"""uvicorn's HTTP/1.1 protocol (httptools), bounded in what a client may hold; `secureai api` serves with it.

uvicorn itself bounds neither the size of a request head nor how long a request may take to arrive: a
client could send megabytes of headers (all buffered), or hold a connection forever by sending a byte now
and then (slowloris). Here a request head must stay within `HTTP_MAX_HEADER_BYTES` (else 431) and arrive
within `HTTP_HEADER_TIMEOUT_S` of its first byte or of the connection opening; its body must arrive within
`HTTP_BODY_TIMEOUT_S` of the head (else 408, or only the close when the app answered without waiting for
the body). Either refusal closes the connection.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEAD_END = b"\r\n\r\n"
# After a refusal the connection is half-closed and what the client still sends is read and dropped for
# this long: closing at once with unread data would reset the connection and lose the refusal on the way.
LINGER_S = 2.0


@dataclass(frozen=True, slots=True)
class Limits:
    max_header_bytes: int
    header_timeout_s: float
    body_timeout_s: float


@lru_cache(maxsize=1)
def limits() -> Limits:
    """The limits from the settings, read once per process."""
    from shared.config import get_settings

    settings = get_settings()
    return Limits(
        max_header_bytes=settings.http_max_header_bytes,
        header_timeout_s=settings.http_header_timeout_s,
        body_timeout_s=settings.http_body_timeout_s,
    )


def _refusal(status: bytes, code: bytes, message: bytes) -> bytes:
    body = b'{"error":{"code":"' + code + b'","message":"' + message + b'"}}'
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\nconnection: close\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


HEAD_TOO_LARGE = _refusal(
    b"431 Request Header Fields Too Large", b"headers_too_large", b"request head too large"
)
HEAD_TOO_SLOW = _refusal(b"408 Request Timeout", b"request_timeout", b"request head not received in time")
BODY_TOO_SLOW = _refusal(b"408 Request Timeout", b"request_timeout", b"request body not received in time")


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that counts the bytes of each request head and times each request's arrival."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits()
        self._in_head = True  # the next bytes belong to a request head
        self._head_bytes = 0
        self._tail = b""  # the last bytes of the head so far, to find its end across reads
        self._timer: asyncio.TimerHandle | None = None
        self._refused = False

    def _arm(self, seconds: float, refusal: bytes) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._expire, refusal)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self, refusal: bytes) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and cycle.response_started and not cycle.response_complete:
            self.transport.close()  # an answer is under way: it cannot be followed by a refusal
        elif refusal is BODY_TOO_SLOW and cycle is not None and cycle.response_complete:
            self._refuse(None)  # the app answered without waiting for the body: that is the answer
        else:
            self._refuse(refusal)

    def _refuse(self, refusal: bytes | None) -> None:
        """Answer `refusal` (unless None), then drop what the client still sends until the connection
        closes."""
        self._disarm()
        self._refused = True
        if refusal is not None:
            self.transport.write(refusal)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._timer = self.loop.call_later(LINGER_S, self.transport.close)
        if self.cycle is not None and not self.cycle.response_complete:
            # The app may still wait for the body: tell it the client is gone.
            self.cycle.disconnected = True
            self.cycle.message_event.set()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A connection that never completes a request head is dropped, not kept forever.
        self._arm(self.limits.header_timeout_s, HEAD_TOO_SLOW)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            if self._timer is None:
                self._arm(self.limits.header_timeout_s, HEAD_TOO_SLOW)
            scan = self._tail + data
            end = scan.find(HEAD_END)
            self._head_bytes += len(data) if end < 0 else end + len(HEAD_END) - len(self._tail)
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse(HEAD_TOO_LARGE)
                return
            if end < 0:
                self._tail = scan[-(len(HEAD_END) - 1) :]
            else:
                self._in_head = False
                self._disarm()
        super().data_received(data)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if not (self.parser.should_upgrade() and self._should_upgrade()):
            self._arm(self.limits.body_timeout_s, BODY_TOO_SLOW)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()
        # What follows on this connection is the next request's head.
        self._in_head = True
        self._head_bytes = 0
        self._tail = b""

    def handle_websocket_upgrade(self) -> None:
        self._disarm()
        super().handle_websocket_upgrade()
