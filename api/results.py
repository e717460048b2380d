"""Waiting for a job's end on behalf of a client that asked to wait."""

from __future__ import annotations

import time

import orjson

from api.services import Services
from api.waiter import Watch
from shared.jobs import TERMINAL, Job


async def wait_for_end(services: Services, watch: Watch, timeout: float) -> Job | None:
    """The ended job, or None when `timeout` passed first. Open `watch` before submitting the job."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        record = await watch.wait(remaining)
        if record is not None:
            return Job.from_hash(watch.job_id, orjson.loads(record))
        job = await services.jobs.get(watch.job_id)
        if job is None or job.status in TERMINAL:
            return job
