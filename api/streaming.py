"""Reading a job's events from its Redis Stream, for every client that follows a job as it runs.

Each follower blocks in XREAD on the job's stream (no polling), on a connection pool of its own so that
long waits never starve the gate of connections. Because the events live in Redis, any API replica can
serve any job's stream, and a client that reconnects with the last event id it saw misses nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from api.services import Services
from shared import keys
from shared.errors import ServiceUnavailable
from shared.jobs import EXPIRED, QUEUED, TERMINAL, Job
from shared.redis import connect

TERMINAL_EVENTS = frozenset({"done", "error"})
STREAM_START = "0-0"
EVENT_ID = re.compile(r"^\d{1,20}(-\d{1,20})?$")
READ_COUNT = 256
MAX_STREAMS = 1024
# How often a waiting job's place in its user's queue is re-read (dispatch writes no event for it).
POSITION_RECHECK_S = 1.0
# How long a follower waits on a silent stream before checking that its job still exists.
IDLE_RECHECK_S = 15.0


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One event of a job: its stream id and its JSON object (`{"type": ..., ...}`)."""

    id: str
    data: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.data.get("type", ""))

    def wire(self) -> bytes:
        """The event as clients of the native stream receive it: its id first, then its fields."""
        return orjson.dumps({"id": self.id, **self.data})


def valid_event_id(value: str) -> bool:
    """True for a Redis Stream id (`<ms>` or `<ms>-<seq>`), the form `?after=` takes."""
    return bool(EVENT_ID.match(value))


class EventStreams:
    """Blocking reads of job event streams, at most `max_streams` at once per process."""

    def __init__(self, redis_url: str, *, max_streams: int = MAX_STREAMS) -> None:
        # One connection per open stream at most: a blocked XREAD holds its connection.
        self.redis: Redis = connect(redis_url, max_connections=max_streams)
        self.max_streams = max_streams
        self._open = 0

    def check_capacity(self) -> None:
        """Refuse a new stream up front (before the gate spends anything) when every slot is taken."""
        if self._open >= self.max_streams:
            raise ServiceUnavailable(
                "too many open streams on this server; retry shortly",
                code="streams_exhausted",
                headers={"Retry-After": "1"},
            )

    @asynccontextmanager
    async def open(self, job_id: str) -> AsyncIterator[EventReader]:
        """A reader for one job's stream, holding one of this process's stream slots while open."""
        self.check_capacity()
        self._open += 1
        try:
            yield EventReader(self.redis, keys.events(job_id))
        finally:
            self._open -= 1

    async def close(self) -> None:
        await self.redis.aclose()


class EventReader:
    """Reads one job's events in order, from just after a given id."""

    def __init__(self, redis: Redis, key: str) -> None:
        self.redis = redis
        self.key = key

    async def read(self, after: str, block_s: float = 0.0) -> list[JobEvent]:
        """Events after `after`; waits up to `block_s` when there are none yet (then returns [])."""
        block = max(1, int(block_s * 1000)) if block_s > 0 else None
        reply: Any = await self.redis.xread({self.key: after}, count=READ_COUNT, block=block)
        if not reply:
            return []
        return [JobEvent(entry_id, orjson.loads(fields["e"])) for entry_id, fields in reply[0][1]]


EXPIRED_EVENT = {"type": "error", "code": "expired", "message": "the job's result is no longer kept"}


async def follow_job(
    services: Services, reader: EventReader, job: Job, after: str = STREAM_START
) -> AsyncIterator[JobEvent]:
    """Every event of `job` after `after` as it happens, ending with its `done` or `error` event.

    While the job waits, its queue position is re-read every `POSITION_RECHECK_S` and a `queued` event
    is added when it changed; such an event carries the id of the last stored event, so resuming after
    it misses nothing. A job whose record has expired ends with an `error` event (`expired`).
    """
    last_id = after
    if job.status == EXPIRED:
        yield JobEvent(after, EXPIRED_EVENT)
        return
    if job.status in TERMINAL:
        # A finished job's stream is complete: replay what follows `after`, then end.
        async for event in _drain(reader, after):
            yield event
        return
    waiting = job.status == QUEUED
    position: int | None = None
    checked_at = float("-inf")  # the first pass checks at once: a replayed position may be stale
    while True:
        events = await reader.read(last_id, POSITION_RECHECK_S if waiting else IDLE_RECHECK_S)
        for event in events:
            last_id = event.id
            if event.type == "queued":
                position = event.data.get("position")
            else:
                waiting = False
            yield event
            if event.type in TERMINAL_EVENTS:
                return
        now = time.monotonic()
        if events and not (waiting and now - checked_at >= POSITION_RECHECK_S):
            continue
        # A silent stream, or a waiting job due for a position check: re-read the job itself.
        checked_at = now
        current = await services.jobs.get(job.job_id)
        if current is None or current.status == EXPIRED:
            yield JobEvent(last_id, EXPIRED_EVENT)
            return
        if current.status in TERMINAL:
            # Its last event was written with its status: it is stored by now, or was before `after`.
            async for event in _drain(reader, last_id):
                yield event
            return
        if waiting and current.status == QUEUED and current.queue_position != position:
            position = current.queue_position
            yield JobEvent(last_id, {"type": "queued", "position": position})


async def _drain(reader: EventReader, after: str) -> AsyncIterator[JobEvent]:
    """Every stored event after `after`, without waiting for more."""
    while True:
        events = await reader.read(after)
        for event in events:
            after = event.id
            yield event
        if len(events) < READ_COUNT:
            return
