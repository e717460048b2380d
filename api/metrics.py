"""Prometheus metrics: this process's own series, and the cluster's, read from Redis at scrape time.

Process series (HTTP requests, gate decisions, firewall verdicts, Redis errors, shed requests) live in
prometheus-client; with several uvicorn workers `PROMETHEUS_MULTIPROC_DIR` makes them multi-process safe
(`secureai api --workers N` sets it up). Cluster series (queue depth per pool and for the top users,
jobs in flight, live workers and slots, job outcomes, tokens, GPU-seconds, dispatch wait and job
duration histograms, requeues) come from counters the Lua scripts keep in Redis, so every API replica
reports the same values: aggregate them with `max`, not `sum`. User labels are bounded: the `TOP_USERS`
longest queues per pool, the rest summed under `user="other"`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector
from redis.asyncio import Redis

from shared import keys
from shared.pools import read_pool

TOP_USERS = 10
MAX_USERS_SCANNED = 1000
BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 600000)

HTTP_REQUESTS = Counter(
    "secureai_http_requests", "HTTP requests by route and status", ["route", "method", "status"]
)
HTTP_SECONDS = Histogram(
    "secureai_http_request_seconds",
    "HTTP request latency by route",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120),
)
GATE_DECISIONS = Counter(
    "secureai_gate_decisions", "Gate decisions by step and outcome", ["action", "step", "decision"]
)
FIREWALL_VERDICTS = Counter(
    "secureai_firewall_verdicts", "Firewall findings by category and action", ["category", "action"]
)
REDIS_ERRORS = Counter("secureai_redis_errors", "Requests that found Redis unreachable")
SHED = Counter("secureai_requests_shed", "Requests refused before any work by an admission bound", ["path"])


class ClusterSnapshot(Collector):
    """Cluster-wide series fetched from Redis just before a scrape is rendered."""

    def __init__(self, pools: dict[str, dict[str, Any]]) -> None:
        self.pools = pools

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "secureai_queue_depth", "Jobs waiting in the per-user queues", labels=["pool"]
        )
        by_user = GaugeMetricFamily(
            "secureai_queue_depth_user",
            "Jobs waiting, for the users with the longest queues",
            labels=["pool", "user"],
        )
        inflight = GaugeMetricFamily(
            "secureai_jobs_dispatched", "Jobs holding a worker slot", labels=["pool"]
        )
        workers = GaugeMetricFamily(
            "secureai_workers_alive", "Workers with a live heartbeat", labels=["pool"]
        )
        slots = GaugeMetricFamily("secureai_pool_slots", "Slots of the live workers", labels=["pool"])
        jobs = CounterMetricFamily("secureai_jobs", "Jobs ended, by outcome", labels=["pool", "status"])
        tokens = CounterMetricFamily("secureai_tokens", "Tokens used by ended jobs", labels=["pool"])
        gpu = CounterMetricFamily("secureai_gpu_seconds", "GPU-seconds used by ended jobs", labels=["pool"])
        requeued = CounterMetricFamily(
            "secureai_jobs_requeued", "Jobs taken back from lost workers", labels=["pool"]
        )
        wait = HistogramMetricFamily(
            "secureai_dispatch_wait_seconds", "From accepted to started", labels=["pool"]
        )
        duration = HistogramMetricFamily(
            "secureai_job_duration_seconds", "Time a job held its slot", labels=["pool"]
        )
        for pool, data in self.pools.items():
            depth.add_metric([pool], data["waiting"])
            for user, length in data["users"]:
                by_user.add_metric([pool, user], length)
            inflight.add_metric([pool], data["inflight"])
            workers.add_metric([pool], data["workers"])
            slots.add_metric([pool], data["slots"])
            stats: dict[str, str] = data["stats"]
            for status in ("succeeded", "failed", "cancelled"):
                jobs.add_metric([pool, status], float(stats.get(f"jobs_{status}", 0)))
            tokens.add_metric([pool], float(stats.get("tokens", 0)))
            gpu.add_metric([pool], float(stats.get("gpu_seconds", 0)))
            requeued.add_metric([pool], float(stats.get("requeued", 0)))
            for family, prefix in ((wait, "wait_ms"), (duration, "duration_ms")):
                family.add_metric(
                    [pool], _buckets(stats, prefix), float(stats.get(f"{prefix}_sum", 0)) / 1000
                )
        yield from (depth, by_user, inflight, workers, slots, jobs, tokens, gpu, requeued, wait, duration)


def _buckets(stats: dict[str, str], prefix: str) -> list[tuple[str, float]]:
    # Lua keeps a count per bucket; Prometheus buckets are cumulative.
    cumulative = 0.0
    buckets: list[tuple[str, float]] = []
    for bound in BUCKETS_MS:
        cumulative += float(stats.get(f"{prefix}_{bound}", 0))
        buckets.append((repr(bound / 1000), cumulative))
    cumulative += float(stats.get(f"{prefix}_inf", 0))
    buckets.append(("+Inf", cumulative))
    return buckets


async def cluster_snapshot(redis: Redis, pools: list[str]) -> ClusterSnapshot:
    """Read every cluster series for `pools` from Redis."""
    data: dict[str, dict[str, Any]] = {}
    for pool in pools:
        health = await read_pool(redis, pool)
        async with redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.pool_waiting(pool))
            pipe.zcard(keys.inflight(pool))
            pipe.hgetall(keys.stats(pool))
            pipe.zrange(keys.ready(pool), 0, MAX_USERS_SCANNED - 1)
            waiting, inflight, stats, users = await pipe.execute()
        lengths: list[tuple[str, int]] = []
        if users:
            async with redis.pipeline(transaction=False) as pipe:
                for user in users:
                    pipe.llen(keys.user_queue(pool, user))
                lengths = list(zip(users, await pipe.execute(), strict=True))
        lengths.sort(key=lambda item: -item[1])
        top = lengths[:TOP_USERS]
        rest = sum(length for _, length in lengths[TOP_USERS:])
        if rest:
            top.append(("other", rest))
        data[pool] = {
            "waiting": int(waiting or 0),
            "users": top,
            "inflight": int(inflight),
            "workers": health.workers,
            "slots": health.slots,
            "stats": stats,
        }
    return ClusterSnapshot(data)


def render(snapshot: ClusterSnapshot | None) -> bytes:
    """The exposition text: this process's (or all local workers') series, then the cluster's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        local = CollectorRegistry()
        multiprocess.MultiProcessCollector(local)  # type: ignore[no-untyped-call]
    else:
        local = REGISTRY
    text = generate_latest(local)
    if snapshot is not None:
        cluster = CollectorRegistry()
        cluster.register(snapshot)
        text += generate_latest(cluster)
    return text
