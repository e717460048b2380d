"""`secureai worker --pool NAME`: an arq worker for one pool, woken the moment a job is dispatched.

arq polls its queue every `poll_delay`; here every script that puts a job into arq's queue pushes a wake-up
naming it and the worker blocks on that list (BRPOP, oldest first), so a job starts within a Redis round trip
of its dispatch while an idle worker costs nothing. The worker also heartbeats (the scheduler sizes the pool
from heartbeats), keeps the leases of its running jobs fresh, probes its backends, and stops a running job
when its owner cancels.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from importlib.resources import files
from typing import Any

import orjson
from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix
from arq.utils import timestamp_ms
from arq.worker import Worker, func
from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import RedisError

from shared import keys
from shared.audit import AuditLog, new_writer_id, open_sink
from shared.catalog import Catalog
from shared.config import Settings
from shared.jobs import ARQ_FUNCTION, JobStore
from shared.redis import Scripts, connect
from worker.backends import Backend, build_backend
from worker.metering import open_gpu_source
from worker.runner import WorkerState, run_job

logger = logging.getLogger(__name__)

IDLE_POLL_S = 0.5
ARQ_CLAIM_LUA = (files("shared") / "lua" / "arq_claim.lua").read_text(encoding="utf-8")


class PoolWorker(Worker):
    """An arq worker that sleeps on a wake-up list instead of polling on a timer."""

    def __init__(self, *args: Any, wake_redis: Redis, wake_key: str, **kwargs: Any) -> None:
        super().__init__(*args, poll_delay=0, **kwargs)
        self._wake_redis = wake_redis
        self._wake_key = wake_key
        self._slot_freed = asyncio.Event()
        self._claim = self.pool.register_script(ARQ_CLAIM_LUA)

    async def _poll_iteration(self) -> None:
        job_id = await self._wait_for_work()
        try:
            if job_id is None or not self.allow_pick_jobs:
                # Idle, or woken without a job: arq's own poll of the queue (also its bookkeeping).
                await super()._poll_iteration()
                return
            # The wake-up names the job: start it without reading the queue first.
            await self.start_jobs([job_id.encode()])
            self._forget_finished_tasks()
            await self.heart_beat()
        except (RedisError, OSError):
            # arq would end the worker here; Redis coming back must find the worker still serving.
            logger.warning("Redis unavailable; the worker waits for it", exc_info=True)
            await asyncio.sleep(IDLE_POLL_S)

    def _forget_finished_tasks(self) -> None:
        # What arq's poll does after starting jobs: drop finished tasks, surfacing their errors.
        for job_id, task in list(self.tasks.items()):
            if task.done():
                del self.tasks[job_id]
                task.result()

    async def _wait_for_work(self) -> str | None:
        """The job id of a wake-up, or None after an idle wait or when every slot is busy."""
        if self.job_counter >= self.max_jobs:
            # Every slot is busy: nothing to take until one frees.
            self._slot_freed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._slot_freed.wait(), IDLE_POLL_S)
            return None
        try:
            # Wake-ups are LPUSHed: pop the other end, so the oldest dispatched job starts first.
            woken = await self._wake_redis.brpop([self._wake_key], timeout=IDLE_POLL_S)  # type: ignore[arg-type]
        except (RedisError, OSError):
            await asyncio.sleep(IDLE_POLL_S)
            return None
        if not woken or len(woken[1]) != 32:
            return None
        return str(woken[1])

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        """arq's start_jobs, with the in-progress lock taken by one Lua call (see arq_claim.lua)."""
        lock_ms = int(self.in_progress_timeout_s * 1000)
        for raw_id in job_ids:
            await self.sem.acquire()
            if self.job_counter >= self.max_jobs:
                self.sem.release()
                return
            self.job_counter += 1
            job_id = raw_id.decode()
            try:
                score = await self._claim(
                    keys=[in_progress_key_prefix + job_id, self.queue_name],
                    args=[job_id, timestamp_ms(), lock_ms],
                )
            except BaseException:
                self.job_counter -= 1
                self.sem.release()
                raise
            if not score:
                # Started elsewhere already, or finished and gone from the queue.
                self.job_counter -= 1
                self.sem.release()
                continue
            task = self.loop.create_task(self.run_job(job_id, int(float(score))))
            task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
            self.tasks[job_id] = task

    def _release_sem_dec_counter_on_complete(self) -> None:
        super()._release_sem_dec_counter_on_complete()
        self._slot_freed.set()

    async def close(self) -> None:
        """arq's close, except that jobs cancelled by the shutdown do not abort it.

        arq gathers its cancelled job tasks without `return_exceptions`, so one job interrupted while
        recording its end raises CancelledError out of close() and the shutdown hook never runs.
        """
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if not self._pool:
            return
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        await self.pool.delete(self.health_check_key)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        await self.pool.aclose(close_connection_pool=True)
        self._pool = None


def _serialize(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data, default=str)


def build_worker(
    settings: Settings,
    catalog: Catalog,
    pool: str,
    *,
    concurrency: int | None = None,
    handle_signals: bool = True,
) -> PoolWorker:
    """The worker for `pool`, not yet started."""
    models = catalog.models_in_pool(pool)
    if not models:
        raise ValueError(
            f"no model in the catalog uses pool {pool!r} (pools: {', '.join(catalog.pool_names())})"
        )
    slots = concurrency or catalog.pool(pool).concurrency or settings.worker_concurrency
    # arq's own retry limit stays high: run_job fails the job itself after `max_tries`, so it always ends.
    job_timeout = max(spec.timeout_s for spec in models) + 30
    arq_redis = ArqRedis(connection_pool=ConnectionPool.from_url(settings.redis_url), default_queue_name="")
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{pool}"
    audit_key = settings.require_audit_key()
    audit_writer = new_writer_id(f"worker-{pool}")

    async def startup(ctx: dict[str, Any]) -> None:
        redis = connect(settings.redis_url)
        store = JobStore(
            redis, Scripts(redis), result_ttl_s=settings.result_ttl_s, policy=settings.queue_policy
        )
        backends: dict[str, Backend] = {}
        for spec in models:
            if spec.backend not in backends:
                backends[spec.backend] = build_backend(spec.backend, settings)
        state = WorkerState(
            settings=settings,
            catalog=catalog,
            pool=pool,
            worker_id=worker_id,
            concurrency=slots,
            redis=redis,
            store=store,
            backends=backends,
            gpu_source=open_gpu_source(catalog.pool(pool).device),
            # The scheduler takes a job back once its lease is this old and its worker's heartbeat gone.
            lease_s=settings.worker_heartbeat_s * 3,
            max_tries=settings.job_max_tries,
            audit=AuditLog(
                redis,
                audit_key,
                writer=audit_writer,
                sink=open_sink(settings.audit_sink, audit_writer),
                fsync_s=settings.audit_fsync_s,
            ),
        )
        ctx["state"] = state
        await probe_backends(state)
        ctx["tasks"] = [
            asyncio.create_task(heartbeat_loop(state)),
            asyncio.create_task(cancel_listener(state)),
            asyncio.create_task(probe_loop(state)),
        ]
        logger.info("worker ready", extra={"pool": pool, "worker_id": worker_id, "slots": slots})

    async def shutdown(ctx: dict[str, Any]) -> None:
        for task in ctx.get("tasks", []):
            task.cancel()
        state: WorkerState | None = ctx.get("state")
        if state is None:
            return
        with contextlib.suppress(RedisError, OSError):
            await state.redis.zrem(keys.workers(pool), worker_id)
            await state.redis.delete(keys.worker(worker_id))
        for backend in state.backends.values():
            await backend.close()
        if state.audit is not None:
            await state.audit.close()
        await state.redis.aclose()
        await wake_redis.aclose()

    wake_redis = connect(settings.redis_url, max_connections=4)
    return PoolWorker(
        functions=[func(run_job, name=ARQ_FUNCTION, timeout=job_timeout, max_tries=1000)],
        queue_name=keys.arq_queue(pool),
        redis_pool=arq_redis,
        wake_redis=wake_redis,
        wake_key=keys.worker_wake(pool),
        max_jobs=slots,
        keep_result=0,
        job_timeout=job_timeout,
        health_check_interval=3600,
        on_startup=startup,
        on_shutdown=shutdown,
        job_serializer=_serialize,
        job_deserializer=orjson.loads,
        retry_jobs=True,
        handle_signals=handle_signals,
    )


async def probe_backends(state: WorkerState) -> None:
    """Ask each backend whether its models can be served now."""
    for spec in state.catalog.models_in_pool(state.pool):
        backend = state.backends[spec.backend]
        try:
            ok = await asyncio.wait_for(backend.available(spec), timeout=max(10.0, spec.timeout_s))
        except Exception:  # a probe that breaks means "not available", never a dead worker
            logger.warning("backend probe failed", extra={"model": spec.name}, exc_info=True)
            ok = False
        if state.available.get(spec.name) != ok:
            logger.info("model availability", extra={"model": spec.name, "available": ok})
        state.available[spec.name] = ok


async def probe_loop(state: WorkerState) -> None:
    while True:
        await asyncio.sleep(state.settings.backend_probe_s)
        await probe_backends(state)


async def heartbeat_loop(state: WorkerState) -> None:
    """Announce this worker (slots, models it can serve) and keep its running jobs' leases fresh."""
    interval = state.settings.worker_heartbeat_s
    info = {
        "pool": state.pool,
        "concurrency": str(state.concurrency),
        "host": socket.gethostname(),
        "pid": str(os.getpid()),
        "started_at": repr(time.time()),
    }
    while True:
        now_ms = time.time() * 1000
        try:
            async with state.redis.pipeline(transaction=False) as pipe:
                pipe.hset(
                    keys.worker(state.worker_id), mapping={**info, "models": orjson.dumps(state.available)}
                )
                pipe.pexpire(keys.worker(state.worker_id), int(interval * 3000))
                pipe.zadd(keys.workers(state.pool), {state.worker_id: now_ms + interval * 3000})
                if state.running:
                    deadline = now_ms + state.lease_s * 1000
                    pipe.zadd(keys.inflight(state.pool), dict.fromkeys(state.running, deadline), xx=True)
                await pipe.execute()
        except (RedisError, OSError):
            logger.warning("heartbeat failed", exc_info=True)
        await asyncio.sleep(interval)


async def cancel_listener(state: WorkerState) -> None:
    """Stop a running job of this worker as soon as its owner cancels it."""
    while True:
        try:
            async with state.redis.pubsub() as pubsub:
                await pubsub.subscribe(keys.CANCEL_CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    job_id = str(message["data"])
                    task = state.running.get(job_id)
                    if task is not None:
                        state.cancelled.add(job_id)
                        task.cancel()
        except (RedisError, OSError):
            logger.warning("cancel listener lost Redis; reconnecting", exc_info=True)
            await asyncio.sleep(1.0)


def run(settings: Settings, catalog: Catalog, pool: str, *, concurrency: int | None = None) -> None:
    """Run the worker for `pool` until SIGINT or SIGTERM."""
    asyncio.set_event_loop(new_event_loop())
    build_worker(settings, catalog, pool, concurrency=concurrency).run()


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where installed (it comes with uvicorn[standard]): cheaper sockets and timers."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop
