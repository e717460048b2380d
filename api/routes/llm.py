"""`/api/v1/llm/generate`: submit and wait, answering in the seed-compatible shape."""

from __future__ import annotations

from fastapi import APIRouter

from api import gate
from api.convert import generation_request
from api.deps import Context, LLMToken, ServicesDep
from api.responses import JSONBody
from api.results import wait_for_end
from api.schemas import GenerateBody, GenerateResponse, JobAccepted
from shared.errors import GatewayError
from shared.jobs import CANCELLED, SUCCEEDED, Job, new_job_id

router = APIRouter(prefix="/api/v1/llm", tags=["llm"])

# How a failed job maps to the status of the request that waited for it.
FAILURE_STATUS = {"timeout": 504, "backend_unavailable": 503, "model_unavailable": 503, "worker_lost": 503}


@router.post("/generate", name="llm.generate", response_model=GenerateResponse)
async def generate(body: GenerateBody, services: ServicesDep, ctx: Context, token: LLMToken) -> JSONBody:
    request = generation_request(body, services.settings.max_prompt_bytes)
    job_id = new_job_id()
    with services.waiter.watch(job_id) as watch:
        admitted = await gate.verify_request(services, ctx, token, body.model, request, job_id=job_id)
        job = await wait_for_end(services, watch, services.settings.generate_max_wait_s)
    if job is None:
        # Still running past the longest wait: hand the client what it needs to poll.
        accepted = JobAccepted(
            job_id=job_id,
            status="running",
            queue_position=0,
            poll_url=f"/api/v1/jobs/{job_id}",
            stream_url=f"/api/v1/jobs/{job_id}/stream",
        )
        return JSONBody(accepted.model_dump(), status_code=202, headers=admitted.headers)
    raise_for_failure(job)
    response = GenerateResponse(
        content=job.content or "",
        model=admitted.spec.name,
        tokens_used=job.usage.prompt_tokens + job.usage.completion_tokens,
        latency_ms=round(_latency_ms(job), 3),
        job_id=job_id,
    )
    return JSONBody(response.model_dump(), headers=admitted.headers)


def raise_for_failure(job: Job) -> None:
    """Turn a job that did not succeed into the error its waiting client gets."""
    if job.status == SUCCEEDED:
        return
    if job.status == CANCELLED:
        raise GatewayError(
            "the job was cancelled", code="cancelled", status=409, extra={"job_id": job.job_id}
        )
    code = job.error_code or "failed"
    raise GatewayError(
        job.error_message or "the job failed",
        code=code,
        status=FAILURE_STATUS.get(code, 502),
        extra={"job_id": job.job_id},
    )


def _latency_ms(job: Job) -> float:
    if job.created_at and job.finished_at:
        return float(job.finished_at) - float(job.created_at)
    return 0.0
