"""Token events for a running job, batched so a fast model costs one Redis round trip per batch."""

from __future__ import annotations

import time

import orjson
from redis.asyncio import Redis

from shared import keys

FLUSH_INTERVAL_S = 0.02
FLUSH_TOKENS = 64


class TokenEvents:
    """Buffers `token` events and appends them to the job's stream in order."""

    def __init__(self, redis: Redis, job_id: str) -> None:
        self.redis = redis
        self.key = keys.events(job_id)
        self._pending: list[str] = []
        self._last_flush = time.monotonic()

    async def add(self, text: str) -> None:
        """Queue one token; flushes when the batch is big or old enough."""
        if not text:
            return
        self._pending.append(text)
        if len(self._pending) >= FLUSH_TOKENS or time.monotonic() - self._last_flush >= FLUSH_INTERVAL_S:
            await self.flush()

    async def flush(self) -> None:
        """Write every queued token event."""
        self._last_flush = time.monotonic()
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        async with self.redis.pipeline(transaction=False) as pipe:
            for text in pending:
                pipe.xadd(self.key, {"e": orjson.dumps({"type": "token", "text": text})})
            await pipe.execute()
