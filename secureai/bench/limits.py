"""`secureai bench limits`: what the quota check adds to a request, at 1 and at 64 concurrent clients.

Calls the same admission the gate makes (one Lua call over all five dimensions) against the benchmark
Redis database, and prints the time each call took from the caller's side, in microseconds.
"""

from __future__ import annotations

import asyncio
import time

from redis.asyncio import Redis

from secureai.bench.harness import bench_redis_url, machine, percentile
from shared.jobs import new_job_id
from shared.quotas import QuotaLimits, Quotas
from shared.redis import Scripts, connect

LIMITS = QuotaLimits(
    requests=10**9,
    window_s=60,
    tokens=10**12,
    gpu_seconds_hour=10**9,
    gpu_seconds_day=10**9,
    jobs_in_flight=10**9,
)


async def _run(redis: Redis, clients: int, calls: int) -> tuple[list[float], float]:
    quotas = Quotas(redis, Scripts(redis))
    latencies: list[float] = []

    async def client(index: int) -> None:
        user = f"bench{index}"
        for _ in range(calls):
            started = time.perf_counter_ns()
            await quotas.admit(user, new_job_id(), LIMITS, tokens=300, deadline_s=60)
            latencies.append((time.perf_counter_ns() - started) / 1000)

    await client(-1)  # warm-up: connection and script cache
    latencies.clear()
    wall = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return sorted(latencies), time.perf_counter() - wall


def run(*, calls: int, redis_url: str | None) -> int:
    url = bench_redis_url(redis_url)

    async def main() -> list[tuple[int, list[float], float]]:
        redis = connect(url, max_connections=128)
        try:
            await redis.flushdb()
            results = []
            for clients in (1, 64):
                latencies, wall = await _run(redis, clients, max(1, calls // clients))
                results.append((clients, latencies, wall))
            await redis.flushdb()
            return results
        finally:
            await redis.aclose()

    results = asyncio.run(main())
    print("limits: one admission over requests, tokens, GPU-seconds (hour, day) and jobs in flight")
    print(f"  machine: {machine()}; Redis {url.rsplit('@', 1)[-1]}")
    for clients, latencies, wall in results:
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        rate = len(latencies) / wall
        print(f"  {clients:3d} concurrent: p50 {p50:7.0f} us  p99 {p99:7.0f} us  ({rate:7.0f} checks/s)")
    return 0
