"""`secureai scheduler`: the loop that wakes on new work or freed slots and dispatches it.

Several schedulers may run at once: every move is atomic in Redis, so they cooperate without a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from scheduler.dispatch import Dispatcher
from shared import keys
from shared.catalog import Catalog
from shared.config import Settings
from shared.redis import Scripts, connect

logger = logging.getLogger(__name__)

IDLE_WAIT_S = 0.5
HOUSEKEEPING_S = 1.0


class ReapWindow:
    """Whether the scheduler may take back the jobs of workers whose heartbeat is gone.

    Not within a lease of Redis coming back. While Redis was away no worker could heartbeat, and a Redis
    restarted from its AOF has let the heartbeat keys expire meanwhile: a worker still running its job
    would be taken for lost, its job run again beside it, and the retry's text interleaved with the
    first run's in the job's event stream. So after the scheduler sees Redis fail, and while Redis's own
    uptime is under a lease, live workers are given a lease to heartbeat again before any is reaped.
    """

    def __init__(self, lease_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.lease_s = lease_s
        self.clock = clock
        self.quiet_until = 0.0

    def redis_failed(self) -> None:
        self.quiet_until = self.clock() + self.lease_s

    def open(self, redis_uptime_s: float) -> bool:
        return self.clock() >= self.quiet_until and redis_uptime_s >= self.lease_s


async def serve(settings: Settings, catalog: Catalog, stop: asyncio.Event | None = None) -> None:
    """Dispatch until `stop` is set."""
    stop = stop or asyncio.Event()
    redis = connect(settings.redis_url, max_connections=8)
    lease_s = settings.worker_heartbeat_s * 3
    dispatcher = Dispatcher(
        redis, Scripts(redis), catalog.pool_names(), policy=settings.queue_policy, lease_s=lease_s
    )
    logger.info("scheduler started", extra={"pools": dispatcher.pools})
    window = ReapWindow(lease_s)
    last_housekeeping = 0.0
    try:
        while not stop.is_set():
            try:
                if time.monotonic() - last_housekeeping > HOUSEKEEPING_S:
                    last_housekeeping = time.monotonic()
                    _, requeued = (
                        await dispatcher.reap_all() if window.open(await _uptime(redis)) else (0, [])
                    )
                    for job_id in requeued:
                        # The request id ties this line to the API's and the workers' lines for the job.
                        request_id = await redis.hget(keys.job(job_id), "request_id")
                        logger.warning(
                            "job of a lost worker requeued",
                            extra={"job_id": job_id, "request_id": request_id},
                        )
                if await dispatcher.dispatch_all():
                    continue
                # Nothing movable: sleep until a submit or a finished job pushes a wake-up.
                await redis.blpop([keys.SCHEDULER_WAKE], timeout=IDLE_WAIT_S)  # type: ignore[arg-type]
            except (RedisError, OSError):
                logger.warning("Redis unavailable; retrying", exc_info=True)
                window.redis_failed()
                await asyncio.sleep(1.0)
    finally:
        await redis.aclose()


async def _uptime(redis: Redis) -> float:
    """How long Redis has been up, in seconds; a Redis that does not say (INFO renamed or refused, as some
    hosted ones do) counts as up for long."""
    try:
        return float((await redis.info("server"))["uptime_in_seconds"])
    except (ResponseError, KeyError, ValueError):
        return math.inf


def run(settings: Settings, catalog: Catalog) -> None:
    """Run the scheduler until SIGINT or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, stop.set)
        await serve(settings, catalog, stop)

    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
