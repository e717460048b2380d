"""What the workers of a pool say about themselves in their heartbeats: slots and servable models."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import orjson
from redis.asyncio import Redis

from shared import keys


@dataclass(frozen=True)
class PoolHealth:
    """The live workers of one pool, their slots, and which models at least one of them can serve."""

    pool: str
    workers: int = 0
    slots: int = 0
    models: frozenset[str] = field(default_factory=frozenset)

    def serves(self, model: str) -> bool:
        return model in self.models


async def read_pool(redis: Redis, pool: str) -> PoolHealth:
    """Read the heartbeats of `pool`'s workers, dropping those that stopped beating."""
    now_ms = time.time() * 1000
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zremrangebyscore(keys.workers(pool), "-inf", now_ms)
        pipe.zrange(keys.workers(pool), 0, -1)
        _, worker_ids = await pipe.execute()
    if not worker_ids:
        return PoolHealth(pool)
    async with redis.pipeline(transaction=False) as pipe:
        for worker_id in worker_ids:
            pipe.hmget(keys.worker(worker_id), ["concurrency", "models"])
        rows = await pipe.execute()
    workers, slots = 0, 0
    models: set[str] = set()
    for concurrency, available in rows:
        if concurrency is None:
            continue  # its record expired between the two reads
        workers += 1
        slots += int(concurrency)
        models.update(name for name, ok in orjson.loads(available or "{}").items() if ok)
    return PoolHealth(pool, workers=workers, slots=slots, models=frozenset(models))


class PoolMonitor:
    """`read_pool` with a short cache, for callers on a hot path."""

    def __init__(self, redis: Redis, *, ttl_s: float = 1.0) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, PoolHealth]] = {}

    async def get(self, pool: str) -> PoolHealth:
        cached = self._cache.get(pool)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        health = await read_pool(self.redis, pool)
        self._cache[pool] = (now, health)
        return health
