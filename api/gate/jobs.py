"""Access to existing jobs: only their owner may read or cancel them; anyone else learns nothing (404)."""

from __future__ import annotations

from redis.exceptions import RedisError

from api.gate.context import RequestContext, deny, record, record_unreachable
from api.gate.identity import authenticate_principal
from api.services import Services
from shared.errors import GatewayError, NotFound
from shared.jobs import EXPIRED, QUEUED, Job

READ_SCOPE = "jobs:read"
CANCEL_SCOPE = "llm:generate"


class JobNotCancellable(GatewayError):
    status = 409
    code = "job_finished"


async def read_job(services: Services, ctx: RequestContext, token: str | None, job_id: str) -> Job:
    """The caller's job; 404 when it does not exist or belongs to someone else."""
    principal = await authenticate_principal(services, ctx, token, scope=READ_SCOPE)
    step = "ownership"
    try:
        job = await services.jobs.get(job_id)
        # An expired id tells nothing about its owner (see shared.jobs.new_job_id), so anyone may hear it.
        if job is None or (job.status != EXPIRED and job.user != principal.user.name):
            raise NotFound("no such job", code="job_not_found")
        if job.status == QUEUED:
            job = await services.jobs.with_eta(job, (await services.pools.get(job.pool)).slots)
        await record(
            services,
            ctx,
            decision="allow",
            step=step,
            reason="ok",
            status=200,
            user=principal.user.name,
            job_id=job_id,
        )
        return job
    except GatewayError as error:
        await deny(services, ctx, step, error, user=principal.user.name, job_id=job_id[:64])
        raise
    except (RedisError, OSError):
        raise record_unreachable(services, ctx, step, user=principal.user.name) from None


async def cancel_job(services: Services, ctx: RequestContext, token: str | None, job_id: str) -> Job:
    """Cancel the caller's queued or running job."""
    principal = await authenticate_principal(services, ctx, token, scope=CANCEL_SCOPE)
    step = "ownership"
    try:
        outcome, status = await services.jobs.cancel(job_id, principal.user.name)
        if outcome == "missing":
            raise NotFound("no such job", code="job_not_found")
        if outcome == "final":
            raise JobNotCancellable(f"the job already ended ({status})")
        job = await services.jobs.get(job_id)
        if job is None:
            raise NotFound("no such job", code="job_not_found")
        await record(
            services,
            ctx,
            decision="allow",
            step="cancel",
            reason=f"was {status}",
            status=200,
            user=principal.user.name,
            job_id=job_id,
        )
        return job
    except GatewayError as error:
        await deny(services, ctx, step, error, user=principal.user.name, job_id=job_id[:64])
        raise
    except (RedisError, OSError):
        raise record_unreachable(services, ctx, step, user=principal.user.name) from None
