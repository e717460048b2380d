"""Pure-ASGI middleware: a request id on every request, and a hard cap on body size."""

from __future__ import annotations

import asyncio
import re
import secrets
import time

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.logs import request_id_var

REQUEST_ID_HEADER = b"x-request-id"
SHED_DELAY_S = 0.1
# A login body is a name and a password: anything bigger is refused before it is parsed.
ADMISSION_MAX_BODY_BYTES = 8192
_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Adopts a well-formed `X-Request-ID` or makes one, and echoes it on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = None
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER and _VALID_REQUEST_ID.match(value):
                request_id = value.decode()
                break
        request_id = request_id or secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        raw_id = request_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, raw_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """Refuses bodies over `max_bytes` with 413 before the app buffers them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_bytes:
                    await _too_large(send, self.max_bytes)
                    return
                break
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the app, so the app's own handler answers with its 413 body.
                    raise HTTPException(413, f"request body over {self.max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)


async def _too_large(send: Send, limit: int) -> None:
    body = orjson.dumps(
        {"error": {"code": "payload_too_large", "message": f"request body over {limit} bytes"}}
    )
    await _send_json(send, 413, body, [])


class ShedCounter:
    """Counts requests shed per path, so one audit summary can stand for a flood of refusals."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, path: str) -> None:
        from api.metrics import SHED

        self.counts[path] = self.counts.get(path, 0) + 1
        SHED.labels(path).inc()

    def drain(self) -> dict[str, int]:
        counts, self.counts = self.counts, {}
        return counts


class AdmissionMiddleware:
    """Sheds requests to expensive paths beyond a concurrency bound, before any work is spent on them.

    A login costs a password hash; under a flood the cheapest possible refusal (no Redis, no routing)
    keeps the event loop free for everyone else. The (small) body is read before a slot is taken, so a
    client that sends it slowly holds only its own connection, never one of the few slots. Sheds are
    counted, and the API writes one audit summary per second for them rather than one record each.
    """

    def __init__(self, app: ASGIApp, limits: dict[str, int], counter: ShedCounter) -> None:
        self.app = app
        self.limits = limits
        self.counter = counter
        self.inflight = dict.fromkeys(limits, 0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        limit = self.limits.get(path) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive, ADMISSION_MAX_BODY_BYTES)
        if body is None:
            return  # the client left before its body was complete
        if len(body) > ADMISSION_MAX_BODY_BYTES:
            await _too_large(send, ADMISSION_MAX_BODY_BYTES)
            return
        if self.inflight[path] >= limit:
            self.counter.add(path)
            # A short pause before the refusal caps how fast one connection can hammer the API.
            await asyncio.sleep(SHED_DELAY_S)
            await _send_json(send, 503, _BUSY_BODY, [(b"retry-after", b"1")])
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        self.inflight[path] += 1
        try:
            await self.app(scope, replay, send)
        finally:
            self.inflight[path] -= 1


async def _read_body(receive: Receive, max_bytes: int) -> bytes | None:
    """The whole body (stopping once past `max_bytes`), or None when the client disconnected."""
    parts: list[bytes] = []
    size = 0
    while size <= max_bytes:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        parts.append(chunk)
        size += len(chunk)
        if not message.get("more_body"):
            break
    return b"".join(parts)


_BUSY_BODY = orjson.dumps(
    {"error": {"code": "busy", "message": "too many requests in progress; retry shortly"}}
)


async def _send_json(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class MetricsMiddleware:
    """Counts requests by route template (bounded labels) and status, and times them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from api.metrics import HTTP_REQUESTS, HTTP_SECONDS

        status = 500
        started = time.perf_counter()

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            HTTP_REQUESTS.labels(template, scope.get("method", ""), str(status)).inc()
            HTTP_SECONDS.labels(template).observe(time.perf_counter() - started)


class SecureHeadersMiddleware:
    """Headers every API response carries: no sniffing, no framing, no referrer, no caching."""

    HEADERS: tuple[tuple[bytes, bytes], ...] = (
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cache-control", b"no-store"),
        (b"cross-origin-resource-policy", b"same-origin"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(header for header in self.HEADERS if header[0] not in present),
                ]
            await send(message)

        await self.app(scope, receive, add_headers)
