"""Token events for a running job, coalesced so a fast model costs one stream entry per batch.

Text that arrives within `FLUSH_INTERVAL_S` of the last write is held back and written as one `token`
event: a slow model still streams token by token, a fast one in a few chunks instead of one entry (and
one Redis command) per token.
"""

from __future__ import annotations

import time

import orjson
from redis.asyncio import Redis

from shared import keys

FLUSH_INTERVAL_S = 0.02
FLUSH_TOKENS = 64


class TokenEvents:
    """Buffers generated text and appends it to the job's stream as `token` events, in order."""

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
        """Write the text held back as one event."""
        self._last_flush = time.monotonic()
        if not self._pending:
            return
        text, self._pending = "".join(self._pending), []
        await self.redis.xadd(self.key, {"e": orjson.dumps({"type": "token", "text": text})})
