"""Token events for a running job, coalesced so a fast model costs one stream entry per batch.

Text that arrives within `FLUSH_INTERVAL_S` of the last write is held back and written as one `token`
event: a slow model still streams token by token, a fast one in a few chunks instead of one entry (and
one Redis command) per token. While Redis is away the text is kept and written with the next batch
that gets through, so a job goes on generating through a Redis restart.

An append that raised may still have reached Redis (its reply was lost), so each batch carries a mark of
its own and the failed batch is retried alone, by a script that appends it only when no recent entry
holds its mark: a stream reader sees every batch once, in order.
"""

from __future__ import annotations

import itertools
import secrets
import time

import orjson
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from shared import keys

FLUSH_INTERVAL_S = 0.02
FLUSH_TOKENS = 64
RETRY_AFTER_FAILURE_S = 1.0
# How many of the stream's latest entries a retried batch's mark is looked for in. Only this worker
# writes while the job runs, so the batch, if Redis took it, is the last entry or close to it.
MARK_LOOKBACK = 32


class TokenEvents:
    """Buffers generated text and appends it to the job's stream as `token` events, in order."""

    def __init__(self, redis: Redis, append_once: AsyncScript, job_id: str) -> None:
        self.redis = redis
        self.append_once = append_once
        self.key = keys.events(job_id)
        self._pending: list[str] = []
        # The batch whose append raised, as (mark, event): Redis may or may not hold it.
        self._unsure: tuple[str, bytes] | None = None
        self._marks = (f"{secrets.token_hex(4)}.{n}" for n in itertools.count())
        self._last_flush = time.monotonic()
        self._retry_at = 0.0

    async def add(self, text: str) -> None:
        """Queue one token; flushes when the batch is big or old enough."""
        if not text:
            return
        self._pending.append(text)
        now = time.monotonic()
        if now < self._retry_at:
            return
        if len(self._pending) >= FLUSH_TOKENS or now - self._last_flush >= FLUSH_INTERVAL_S:
            try:
                await self.flush()
            except (RedisError, OSError):
                # Kept for a later batch; pausing keeps a Redis outage from slowing every token down.
                self._retry_at = time.monotonic() + RETRY_AFTER_FAILURE_S

    async def flush(self) -> None:
        """Write the text held back; on failure it stays held back, and the next flush settles it."""
        self._last_flush = time.monotonic()
        if self._unsure is not None:
            mark, event = self._unsure
            await self.append_once(keys=[self.key], args=[mark, event, MARK_LOOKBACK])
            self._unsure = None
        if not self._pending:
            return
        mark = next(self._marks)
        event = orjson.dumps({"type": "token", "text": "".join(self._pending)})
        self._pending = []
        self._unsure = (mark, event)
        await self.redis.xadd(self.key, {"e": event, "m": mark})
        self._unsure = None
