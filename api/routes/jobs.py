"""`/api/v1/jobs`: submit, poll and cancel jobs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from api import gate
from api.convert import generation_request
from api.deps import BearerToken, Context, LLMToken, ServicesDep
from api.gate.jobs import cancel_job, read_job
from api.schemas import GenerateBody, JobAccepted

router = APIRouter(prefix="/api/v1", tags=["jobs"])


@router.post("/jobs", name="jobs.submit", status_code=202)
async def submit_job(
    body: GenerateBody, services: ServicesDep, ctx: Context, token: LLMToken, response: Response
) -> JobAccepted:
    request = generation_request(body, services.settings.max_prompt_bytes)
    admitted = await gate.verify_request(services, ctx, token, body.model, request)
    response.headers.update(admitted.headers)
    return JobAccepted(
        job_id=admitted.job_id,
        queue_position=admitted.position,
        poll_url=f"/api/v1/jobs/{admitted.job_id}",
        stream_url=f"/api/v1/jobs/{admitted.job_id}/stream",
    )


@router.get("/jobs/{job_id}", name="jobs.read")
async def get_job(
    job_id: str, services: ServicesDep, ctx: Context, bearer: BearerToken, llm: LLMToken
) -> dict[str, Any]:
    job = await read_job(services, ctx, bearer or llm, job_id)
    return job.public()


@router.delete("/jobs/{job_id}", name="jobs.cancel")
async def delete_job(
    job_id: str, services: ServicesDep, ctx: Context, bearer: BearerToken, llm: LLMToken
) -> dict[str, Any]:
    job = await cancel_job(services, ctx, bearer or llm, job_id)
    return job.public()
