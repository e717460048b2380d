"""Token events for a running job, coalesced so a fast model costs one stream entry per batch.

Text that arrives within `FLUSH_INTERVAL_S` of the last write is held back and written as one `token`
event: a slow model still streams token by token, a fast one in a few chunks instead of one entry (and
one Redis command) per token. While Redis is away the text is kept and written with the next batch
that gets through, so a job goes on generating through a Redis restart. An append whose reply was lost
is retried like one that failed: if Redis had taken it, a stream reader sees that batch twice.
"""

from __future__ import annotations

import time

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared import keys

FLUSH_INTERVAL_S = 0.02
FLUSH_TOKENS = 64
RETRY_AFTER_FAILURE_S = 1.0


class TokenEvents:
    """Buffers generated text and appends it to the job's stream as `token` events, in order."""

    def __init__(self, redis: Redis, job_id: str) -> None:
        self.redis = redis
        self.key = keys.events(job_id)
        self._pending: list[str] = []
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
        """Write the text held back as one event; on failure the text stays held back."""
        self._last_flush = time.monotonic()
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending = [text]
        await self.redis.xadd(self.key, {"e": orjson.dumps({"type": "token", "text": text})})
        self._pending = []
