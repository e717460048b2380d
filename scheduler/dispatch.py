"""Fair dispatch: each pool's free slots go to the backlogged user with the smallest virtual time.

The choice and the move are one Lua script (`dispatch.lua`): start-time fair queueing over per-user
queues, charged per job by its cost and divided by the user's weight. A pool's capacity is the sum of the
slots of its live workers, read from their heartbeats; a job only enters arq's queue when a slot is free,
so the waiting, and the fairness, happen in the per-user queues.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

from shared import keys
from shared.jobs import ARQ_FUNCTION, ARQ_JOB_PREFIX, TERMINAL
from shared.pools import PoolMonitor
from shared.redis import Scripts

CAPACITY_CACHE_S = 0.5
MAX_MOVES_PER_CALL = 64
DISPATCH_LEASE_MS = 30_000
ARQ_JOB_TTL_MS = 86_400_000


class Dispatcher:
    """Moves work for a fixed set of pools."""

    def __init__(self, redis: Redis, scripts: Scripts, pools: list[str]) -> None:
        self.redis = redis
        self.scripts = scripts
        self.pools = pools
        self.monitor = PoolMonitor(redis, ttl_s=CAPACITY_CACHE_S)

    async def capacity(self, pool: str) -> int:
        """Slots of the pool's live workers (heartbeats change slowly, so read at most every 0.5 s)."""
        return (await self.monitor.get(pool)).slots

    async def dispatch(self, pool: str) -> int:
        """Move as many jobs of `pool` as its free slots allow; returns how many moved."""
        capacity = await self.capacity(pool)
        if capacity <= 0:
            return 0
        moved = await self.scripts.dispatch(
            keys=[
                keys.ready(pool),
                keys.user_vtime(pool),
                keys.vclock(pool),
                keys.inflight(pool),
                keys.arq_queue(pool),
                keys.worker_wake(pool),
            ],
            args=[
                pool,
                int(time.time() * 1000),
                capacity,
                MAX_MOVES_PER_CALL,
                DISPATCH_LEASE_MS,
                ARQ_JOB_TTL_MS,
                keys.JOB_PREFIX,
                keys.USER_QUEUE_PREFIX,
                ARQ_JOB_PREFIX,
                ARQ_FUNCTION,
            ],
        )
        return int(moved)

    async def dispatch_all(self) -> int:
        """One pass over every pool."""
        total = 0
        for pool in self.pools:
            total += await self.dispatch(pool)
        return total

    async def release_stale_slots(self) -> int:
        """Free slots still held by jobs that have already ended (their worker died before saying so)."""
        released = 0
        now_ms = time.time() * 1000
        for pool in self.pools:
            stale = await self.redis.zrangebyscore(keys.inflight(pool), "-inf", now_ms)
            for job_id in stale:
                status = await self.redis.hget(keys.job(job_id), "status")
                if status is None or status in TERMINAL:
                    released += await self.redis.zrem(keys.inflight(pool), job_id)
        return released
