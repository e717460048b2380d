"""Per-user rate limits, atomic in Redis (GCRA: a smooth limit with no burst at window edges)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from shared import keys
from shared.redis import Scripts


@dataclass(frozen=True, slots=True)
class LimitDecision:
    """The outcome of one limit check for one dimension."""

    dimension: str
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: float
    reset_after_s: float


class RateLimiter:
    """Charges requests against per-user limits."""

    def __init__(self, redis: Redis, scripts: Scripts, *, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.scripts = scripts
        self.clock = clock

    async def hit(
        self, user: str, dimension: str, *, limit: int, period_s: float, cost: int = 1
    ) -> LimitDecision:
        """Charge `cost` units of `dimension` to `user`, or refuse without charging anything."""
        now_ms = int(self.clock() * 1000)
        allowed, remaining, retry_ms, reset_ms = await self.scripts.gcra(
            keys=[keys.rate(user, dimension)],
            args=[now_ms, limit, int(period_s * 1000), cost],
        )
        return LimitDecision(
            dimension=dimension,
            allowed=bool(int(allowed)),
            limit=limit,
            remaining=int(remaining),
            retry_after_s=int(retry_ms) / 1000.0,
            reset_after_s=int(reset_ms) / 1000.0,
        )
