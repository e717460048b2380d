"""Waiting for jobs to end without polling: one pub/sub subscription per process fans out to waiters.

A waiter registers before its job is submitted, so no completion can slip by. Pub/sub delivers at most
once: when the subscription drops, every waiter is woken to re-read its job, and waiters re-read anyway
every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared import keys

logger = logging.getLogger(__name__)

RECHECK_S = 5.0


class CompletionWaiter:
    """Resolves futures when `finish.lua` or `cancel.lua` publishes a job id."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._waiting: dict[str, set[asyncio.Future[str | None]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout=5.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._wake_all()

    def watch(self, job_id: str) -> Watch:
        """Start watching `job_id`; call before submitting the job, close when done."""
        return Watch(self, job_id)

    def _add(self, job_id: str) -> asyncio.Future[str | None]:
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(job_id, set()).add(future)
        return future

    def _discard(self, job_id: str, future: asyncio.Future[str | None]) -> None:
        waiters = self._waiting.get(job_id)
        if waiters is not None:
            waiters.discard(future)
            if not waiters:
                del self._waiting[job_id]

    def _resolve(self, job_id: str, record: str | None = None) -> None:
        for future in self._waiting.pop(job_id, ()):
            if not future.done():
                future.set_result(record)

    def _wake_all(self) -> None:
        for job_id in list(self._waiting):
            self._resolve(job_id)

    async def _listen(self) -> None:
        while True:
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(keys.JOB_DONE_CHANNEL)
                    self._subscribed.set()
                    # Anything that ended while we were not subscribed is found by re-reading.
                    self._wake_all()
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            job_id, _, record = str(message["data"]).partition(" ")
                            if job_id in self._waiting:
                                self._resolve(job_id, record or None)
            except (RedisError, OSError):
                logger.warning("job-completion subscription lost; resubscribing")
                self._wake_all()
                await asyncio.sleep(0.5)


class Watch:
    """One caller's interest in one job."""

    def __init__(self, waiter: CompletionWaiter, job_id: str) -> None:
        self.waiter = waiter
        self.job_id = job_id
        self._future = waiter._add(job_id)

    async def wait(self, timeout: float) -> str | None:
        """Return when the job may have ended, after `timeout`, or after the recheck interval.

        Returns the ended job's record (JSON) when the notification carried it.
        """
        if self._future.done():
            self._future = self.waiter._add(self.job_id)
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(asyncio.shield(self._future), timeout=min(timeout, RECHECK_S))
        return None

    def close(self) -> None:
        self.waiter._discard(self.job_id, self._future)

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
