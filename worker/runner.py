"""Running one job: claim it, stream it through its backend under the model's timeout, record the end."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from arq.worker import Retry
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.audit import AuditLog, AuditUnavailable
from shared.catalog import Catalog
from shared.config import Settings
from shared.jobs import CANCELLED, FAILED, SUCCEEDED, JobStore, Usage
from shared.logs import request_id_var
from worker.backends import Backend, BackendError, BackendUnavailable
from worker.events import TokenEvents
from worker.metering import GpuSource, Meter, Occupancy

logger = logging.getLogger(__name__)

# Pauses between attempts to record a job's end while Redis is away (the last one repeats).
RECORD_RETRY_S = (0.1, 0.2, 0.5, 1.0, 2.0)


@dataclass
class WorkerState:
    """Everything a worker process shares between its jobs."""

    settings: Settings
    catalog: Catalog
    pool: str
    worker_id: str
    concurrency: int
    redis: Redis
    store: JobStore
    backends: dict[str, Backend]
    gpu_source: GpuSource | None = None
    occupancy: Occupancy = field(default_factory=Occupancy)  # the jobs sharing the device, for metering
    max_tries: int = 3
    lease_s: float = 6.0
    audit: AuditLog | None = None
    available: dict[str, bool] = field(default_factory=dict)
    running: dict[str, asyncio.Task[Any]] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)


async def run_job(ctx: dict[str, Any], job_id: str) -> None:
    """The arq function every dispatched job runs."""
    state: WorkerState = ctx["state"]
    job_try = int(ctx.get("job_try", 1))
    if job_try > state.max_tries:
        await finish(
            state,
            job_id,
            status=FAILED,
            usage=Usage(),
            error_code="worker_lost",
            error_message=f"the workers running this job stopped {state.max_tries} times; it was given up",
        )
        return
    try:
        claimed = await state.store.claim(
            job_id, pool=state.pool, worker_id=state.worker_id, lease_s=state.lease_s, job_try=job_try
        )
    except (RedisError, OSError):
        # Whether the claim happened is unknown: arq runs the job again later (a retry may re-claim it).
        logger.warning("Redis unavailable while claiming a job; retrying it", extra={"job_id": job_id})
        raise Retry(defer=1.0) from None
    if claimed is None:
        return  # cancelled or already ended while it waited
    user, model_name, request, request_id = claimed
    request_id_var.set(request_id or None)
    spec = state.catalog.get(model_name)
    backend = state.backends.get(spec.backend) if spec else None
    if spec is None or backend is None:
        await finish(
            state,
            job_id,
            status=FAILED,
            usage=Usage(),
            error_code="model_unavailable",
            error_message=f"model {model_name} is not served by pool {state.pool}",
        )
        return

    task = asyncio.current_task()
    assert task is not None
    state.running[job_id] = task
    events = TokenEvents(state.redis, state.store.scripts.append_once, job_id)
    meter = Meter(state.gpu_source, occupancy=state.occupancy).start()
    parts: list[str] = []
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    status, error_code, error_message = SUCCEEDED, None, None
    try:
        async with asyncio.timeout(spec.timeout_s):
            async with contextlib.aclosing(backend.generate(spec, request)) as stream:
                async for chunk in stream:
                    if chunk.text:
                        parts.append(chunk.text)
                        await events.add(chunk.text)
                    if chunk.prompt_tokens is not None:
                        prompt_tokens = chunk.prompt_tokens
                    if chunk.completion_tokens is not None:
                        completion_tokens = chunk.completion_tokens
    except TimeoutError:
        status, error_code = FAILED, "timeout"
        error_message = f"the model did not finish within {spec.timeout_s:g} s"
    except BackendUnavailable as exc:
        status, error_code, error_message = FAILED, "backend_unavailable", str(exc)
    except BackendError as exc:
        status, error_code, error_message = FAILED, "backend_error", str(exc)
    except asyncio.CancelledError:
        if job_id not in state.cancelled:
            raise  # the worker is shutting down: arq puts the job back for another try
        task.uncancel()
        status, error_code, error_message = CANCELLED, "cancelled", "cancelled by its owner"
    except Exception:
        logger.exception("backend failed", extra={"job_id": job_id, "model": model_name})
        status, error_code, error_message = FAILED, "backend_error", "the backend failed unexpectedly"
    finally:
        state.running.pop(job_id, None)
        state.cancelled.discard(job_id)
        measurement = await meter.stop()

    await until_recorded(events.flush)
    usage = Usage(
        prompt_tokens=prompt_tokens or 0,
        completion_tokens=completion_tokens if completion_tokens is not None else len(parts),
        gpu_seconds=measurement.gpu_seconds,
        gpu_seconds_measured=measurement.measured,
        energy_joules=measurement.energy_joules,
    )
    await finish(
        state,
        job_id,
        status=status,
        usage=usage,
        wall_seconds=measurement.wall_seconds,
        content="".join(parts),
        error_code=error_code,
        error_message=error_message,
    )
    outcome = {"job_id": job_id, "user": user, "model": model_name, "status": status, **usage.as_dict()}
    logger.info("job ended", extra=outcome)
    if state.audit is not None:
        record = state.audit.build(
            action="inference",
            resource=f"pool/{state.pool}",
            decision=status,
            reason=error_code or "ok",
            request_id=request_id or None,
            job_id=job_id,
            user=user,
            model=model_name,
            requested_tokens=request.max_tokens,
            used_tokens=usage.prompt_tokens + usage.completion_tokens,
            gpu_seconds=round(usage.gpu_seconds, 6),
            latency_ms=round(measurement.wall_seconds * 1000, 3),
            attempt=job_try,
        )
        # The outcome is already stored with the job; a lost audit line is logged, never fatal here.
        with contextlib.suppress(AuditUnavailable):
            await state.audit.write(record)


async def finish(state: WorkerState, job_id: str, **outcome: Any) -> None:
    """Record how the job ended in this worker's pool (`JobStore.finish`), waiting for Redis if it is away."""
    await until_recorded(lambda: state.store.finish(job_id, pool=state.pool, **outcome))


async def until_recorded(write: Callable[[], Awaitable[Any]]) -> None:
    """Run `write` (a write of a job's end) until Redis takes it.

    A live worker owns its running jobs (the scheduler requeues only a dead worker's), so it must not
    drop one whose end it could not write: it keeps the result and tries again until Redis is back.
    `JobStore.finish` is idempotent, and so is `TokenEvents.flush` (a batch is written at most once).
    """
    for attempt in itertools.count():
        try:
            await write()
            return
        except (RedisError, OSError):
            if attempt == 0:
                logger.warning("Redis unavailable while recording a job's end; retrying", exc_info=True)
            await asyncio.sleep(RECORD_RETRY_S[min(attempt, len(RECORD_RETRY_S) - 1)])
