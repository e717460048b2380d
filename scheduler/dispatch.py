"""Fair dispatch: each pool's free slots go to the backlogged user with the smallest virtual time.

The choice and the move are one Lua script (`dispatch.lua`): start-time fair queueing over per-user
queues, charged per job by its expected GPU-seconds divided by the user's weight, and corrected to what
the job really used when it ends (`finish.lua`). A pool's capacity is the sum of the slots of its live
workers, read from their heartbeats; a job only enters arq's queue when a slot is free, so the waiting,
and the fairness, happen in the per-user queues.

`reap` takes back the slots of jobs whose lease ran out: a job whose worker stopped heartbeating goes
back to arq's queue for another worker within seconds, instead of waiting for arq's own timeout.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

from shared import keys
from shared.jobs import ARQ_FUNCTION, ARQ_JOB_TTL_MS
from shared.pools import PoolMonitor
from shared.redis import Scripts

CAPACITY_CACHE_S = 0.5
MAX_MOVES_PER_CALL = 64
MAX_REAPS_PER_CALL = 100


class Dispatcher:
    """Moves work for a fixed set of pools."""

    def __init__(
        self, redis: Redis, scripts: Scripts, pools: list[str], *, policy: str = "fair", lease_s: float = 6.0
    ) -> None:
        self.redis = redis
        self.scripts = scripts
        self.pools = pools
        self.policy = policy
        self.lease_ms = int(lease_s * 1000)
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
                keys.pool_waiting(pool),
            ],
            args=[
                pool,
                int(time.time() * 1000),
                capacity,
                MAX_MOVES_PER_CALL,
                self.lease_ms,
                ARQ_JOB_TTL_MS,
                keys.JOB_PREFIX,
                keys.USER_QUEUE_PREFIX,
                keys.ARQ_JOB_PREFIX,
                ARQ_FUNCTION,
                self.policy,
            ],
        )
        return int(moved)

    async def dispatch_all(self) -> int:
        """One pass over every pool."""
        total = 0
        for pool in self.pools:
            total += await self.dispatch(pool)
        return total

    async def reap(self, pool: str) -> tuple[int, list[str]]:
        """Free ended jobs' slots and requeue dead workers' jobs; returns (released, requeued ids)."""
        released, _, *requeued = await self.scripts.reap(
            keys=[keys.inflight(pool), keys.arq_queue(pool), keys.worker_wake(pool), keys.stats(pool)],
            args=[
                int(time.time() * 1000),
                self.lease_ms,
                MAX_REAPS_PER_CALL,
                keys.JOB_PREFIX,
                keys.WORKER_PREFIX,
                keys.EVENTS_PREFIX,
                keys.ARQ_IN_PROGRESS_PREFIX,
                keys.ARQ_JOB_PREFIX,
                ARQ_FUNCTION,
                ARQ_JOB_TTL_MS,
            ],
        )
        return int(released), [str(job_id) for job_id in requeued]

    async def reap_all(self) -> tuple[int, list[str]]:
        """`reap` over every pool."""
        released, requeued = 0, []
        for pool in self.pools:
            freed, moved = await self.reap(pool)
            released += freed
            requeued += moved
        return released, requeued
