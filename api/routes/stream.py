"""`WS /api/v1/jobs/{id}/stream`: a job's events as they happen, resumable with `?after=<event id>`.

The token comes in the `Authorization` (or `X-LLM-Token`) header, or, for browsers that cannot set
headers, as a first message `{"token": ...}` within `AUTH_TIMEOUT_S`; otherwise the socket is closed
with 1008. Leaving does not cancel the job: the client may come back and resume where it left off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from redis.exceptions import RedisError

from api.deps import AnyToken, Context, ServicesDep, StreamsDep
from api.gate.jobs import read_job
from api.streaming import STREAM_START, follow_job, valid_event_id
from shared.errors import GatewayError
from shared.jobs import Job

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["jobs"])

AUTH_TIMEOUT_S = 5.0
MAX_AUTH_MESSAGE = 8192
# Close codes: the standard ones where one fits, 4xxx (application range) mirroring HTTP statuses.
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_UNAVAILABLE = 1013
CLOSE_BAD_REQUEST = 4400
CLOSE_NOT_FOUND = 4404


@router.websocket("/jobs/{job_id}/stream", name="jobs.stream")
async def stream_job(
    websocket: WebSocket,
    job_id: str,
    services: ServicesDep,
    streams: StreamsDep,
    ctx: Context,
    header_token: AnyToken,
    after: str = STREAM_START,
) -> None:
    await websocket.accept()
    if not valid_event_id(after):
        await _close(websocket, CLOSE_BAD_REQUEST, "after must be an event id such as 1700000000000-0")
        return
    token = header_token or await _token_message(websocket)
    if token is None:
        await _close(websocket, CLOSE_POLICY, "authentication required")
        return
    try:
        job = await read_job(services, ctx, token, job_id)
        streams.check_capacity()
    except GatewayError as error:
        await _close(websocket, _close_code(error.status), error.message[:120])
        return
    except (RedisError, OSError):
        await _close(websocket, CLOSE_UNAVAILABLE, "a required service is unavailable")
        return
    sender = asyncio.create_task(_send_events(websocket, services, streams, job, after))
    listener = asyncio.create_task(_until_disconnect(websocket))
    done, _ = await asyncio.wait({sender, listener}, return_when=asyncio.FIRST_COMPLETED)
    for task in (sender, listener):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    if sender in done and not sender.cancelled():
        broken = sender.exception()
        if broken is None:
            await _close(websocket, CLOSE_NORMAL, "")
        elif isinstance(broken, GatewayError):
            await _close(websocket, _close_code(broken.status), broken.message[:120])
        elif not isinstance(broken, WebSocketDisconnect):
            if not isinstance(broken, RedisError | OSError):
                logger.error("job stream failed", exc_info=broken)
            await _close(websocket, CLOSE_UNAVAILABLE, "the stream was interrupted; resume with ?after")


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    """Close, unless the client already has."""
    with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
        await websocket.close(code, reason)


async def _send_events(
    websocket: WebSocket, services: ServicesDep, streams: StreamsDep, job: Job, after: str
) -> None:
    async with streams.open(job.job_id) as reader:
        async for event in follow_job(services, reader, job, after):
            await websocket.send_text(event.wire().decode())


async def _until_disconnect(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, so a departure is noticed while it waits for events."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


async def _token_message(websocket: WebSocket) -> str | None:
    """The token of a first message `{"token": "..."}`, if one arrives in time."""
    try:
        message = await asyncio.wait_for(websocket.receive(), timeout=AUTH_TIMEOUT_S)
    except TimeoutError:
        return None
    raw = message.get("text") or message.get("bytes")
    if not raw or len(raw) > MAX_AUTH_MESSAGE:
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    token = data.get("token") if isinstance(data, dict) else None
    return token.strip() or None if isinstance(token, str) else None


def _close_code(status: int) -> int:
    if status in (401, 403):
        return CLOSE_POLICY
    if status == 404:
        return CLOSE_NOT_FOUND
    if status >= 500:
        return CLOSE_UNAVAILABLE
    return CLOSE_BAD_REQUEST
