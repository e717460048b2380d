"""Serving a generation for the compatible APIs: through the gate and the queue, then whole or streamed.

Protocol-neutral: the OpenAI and Ollama routes turn their bodies into a `GenerationRequest`, call
`complete` (wait for the end) or `open_stream` (tokens as the worker writes them), and render what
comes back in their own wire format. Every request passes the same gate as the native API.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from redis.exceptions import RedisError

from api import gate
from api.gate.context import RequestContext
from api.gate.identity import authenticate_principal
from api.results import wait_for_end
from api.services import Services
from api.streaming import STREAM_START, EventReader, EventStreams
from shared.catalog import ModelSpec
from shared.errors import GatewayError, ServiceUnavailable
from shared.jobs import CANCELLED, SUCCEEDED, TERMINAL, GenerationRequest, Job, new_job_id

GENERATE_SCOPE = "llm:generate"
# How a failed job maps to the status of the request that waited for it (as `/api/v1/llm/generate`).
FAILURE_STATUS = {
    "timeout": 504,
    "backend_unavailable": 503,
    "model_unavailable": 503,
    "worker_lost": 503,
    "cancelled": 409,
}
# A silent stream gets a keep-alive this often, so proxies and clients do not give up on it.
KEEPALIVE_S = 15.0
# A job outcome is final: the client retrying the request would only run a second job.
NO_RETRY = {"x-should-retry": "false"}


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts as the compatible APIs report them."""

    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Completion:
    """A finished generation."""

    job_id: str
    model: str
    content: str
    usage: Usage
    finish_reason: str
    created_at: float  # epoch seconds: the request was accepted
    started_at: float | None
    finished_at: float


@dataclass(frozen=True, slots=True)
class Text:
    """Generated text, as one token event carried it."""

    text: str


@dataclass(frozen=True, slots=True)
class Finished:
    usage: Usage
    finish_reason: str


@dataclass(frozen=True, slots=True)
class Failed:
    error: GatewayError


@dataclass(frozen=True, slots=True)
class Idle:
    """Nothing happened for `KEEPALIVE_S`; the protocol may send a keep-alive."""


StreamItem = Text | Finished | Failed | Idle


def finish_reason(completion_tokens: int, max_tokens: int) -> str:
    """`length` when the generation used its whole budget, else `stop`."""
    return "length" if max_tokens > 0 and completion_tokens >= max_tokens else "stop"


def failure(code: str, message: str, job_id: str) -> GatewayError:
    """The error a client hears for a job that ended without a result."""
    return GatewayError(
        message or "the job failed",
        code=code or "failed",
        status=FAILURE_STATUS.get(code, 502),
        headers=dict(NO_RETRY),
        extra={"job_id": job_id},
    )


def still_running(job_id: str, waited_s: float) -> GatewayError:
    return GatewayError(
        f"the job did not finish within {waited_s:g} s; it keeps running, poll /api/v1/jobs/{job_id}",
        code="still_running",
        status=504,
        headers=dict(NO_RETRY),
        extra={"job_id": job_id},
    )


async def complete(
    services: Services, ctx: RequestContext, token: str | None, model: str, request: GenerationRequest
) -> tuple[gate.Admitted, Completion]:
    """Pass the gate, queue the job and wait for its end (at most `GENERATE_MAX_WAIT_S`)."""
    job_id = new_job_id()
    with services.waiter.watch(job_id) as watch:
        admitted = await gate.verify_request(services, ctx, token, model, request, job_id=job_id)
        wait_s = services.settings.generate_max_wait_s
        job = await wait_for_end(services, watch, wait_s)
    error: GatewayError | None = None
    if job is None:
        error = still_running(job_id, wait_s)
    elif job.status == CANCELLED:
        error = failure("cancelled", "the job was cancelled", job_id)
    elif job.status != SUCCEEDED:
        error = failure(job.error_code or "failed", job.error_message or "", job_id)
    if error is not None:
        error.headers.update(admitted.headers)
        raise error
    assert job is not None
    return admitted, _completion(job, admitted.request.max_tokens)


def _completion(job: Job, max_tokens: int) -> Completion:
    usage = Usage(job.usage.prompt_tokens, job.usage.completion_tokens)
    return Completion(
        job_id=job.job_id,
        model=job.model,
        content=job.content or "",
        usage=usage,
        finish_reason=finish_reason(usage.completion_tokens, max_tokens),
        created_at=_seconds(job.created_at) or time.time(),
        started_at=_seconds(job.started_at),
        finished_at=_seconds(job.finished_at) or time.time(),
    )


def _seconds(ms: str | None) -> float | None:
    return float(ms) / 1000.0 if ms else None


async def open_stream(
    services: Services,
    streams: EventStreams,
    ctx: RequestContext,
    token: str | None,
    model: str,
    request: GenerationRequest,
) -> tuple[gate.Admitted, AsyncIterator[list[StreamItem]]]:
    """Pass the gate and queue the job; then its output, a batch of items per read of its events.

    Refusals are raised here, before any byte of the response is sent, so they keep their status.
    """
    streams.check_capacity()
    admitted = await gate.verify_request(services, ctx, token, model, request)
    return admitted, _deliver(services, streams, admitted)


async def _deliver(
    services: Services, streams: EventStreams, admitted: gate.Admitted
) -> AsyncIterator[list[StreamItem]]:
    """The job's output; past the status line, any failure becomes a `Failed` item, never an exception."""
    try:
        async with streams.open(admitted.job_id) as reader:
            async for batch in _follow(services, reader, admitted):
                yield batch
    except GatewayError as error:
        yield [Failed(error)]
    except (RedisError, OSError):
        unavailable = ServiceUnavailable(
            f"lost the job's event stream; its result stays readable at /api/v1/jobs/{admitted.job_id}",
            code="unavailable",
            extra={"job_id": admitted.job_id},
        )
        yield [Failed(unavailable)]


async def _follow(
    services: Services, reader: EventReader, admitted: gate.Admitted
) -> AsyncIterator[list[StreamItem]]:
    job_id = admitted.job_id
    max_tokens = admitted.request.max_tokens
    max_wait_s = services.settings.generate_max_wait_s
    last = STREAM_START
    heard_at = time.monotonic()
    while True:
        events = await reader.read(last, KEEPALIVE_S)
        if not events:
            job = await services.jobs.get(job_id)
            if job is None:
                yield [Failed(failure("expired", "the job expired", job_id))]
                return
            if job.status in TERMINAL:
                # Its last event was written together with its status, so it is stored by now.
                events = await reader.read(last)
                if not events:
                    yield [Failed(failure(job.error_code or "failed", job.error_message or "", job_id))]
                    return
            elif time.monotonic() - heard_at >= max_wait_s:
                yield [Failed(still_running(job_id, max_wait_s))]
                return
            else:
                yield [Idle()]
                continue
        heard_at = time.monotonic()
        batch: list[StreamItem] = []
        for event in events:
            last = event.id
            kind = event.type
            if kind == "token":
                batch.append(Text(str(event.data.get("text", ""))))
            elif kind == "done":
                raw = event.data.get("usage") or {}
                usage = Usage(int(raw.get("prompt_tokens", 0)), int(raw.get("completion_tokens", 0)))
                batch.append(Finished(usage, finish_reason(usage.completion_tokens, max_tokens)))
                yield batch
                return
            elif kind == "error":
                code = str(event.data.get("code", "failed"))
                batch.append(Failed(failure(code, str(event.data.get("message", "")), job_id)))
                yield batch
                return
        if batch:
            yield batch


async def listable_models(services: Services, ctx: RequestContext, token: str | None) -> list[ModelSpec]:
    """The catalog's models the caller may use (a user token or a scoped token; no use is spent)."""
    principal = await authenticate_principal(services, ctx, token, scope=GENERATE_SCOPE)
    return [
        spec for name, spec in sorted(services.catalog.models.items()) if principal.user.allows_model(name)
    ]
