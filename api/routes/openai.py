"""`/v1`: the OpenAI-compatible API (chat completions and models), behind the same gate as every job."""

from __future__ import annotations

from fastapi import APIRouter

from api.completions import complete, listable_models, open_stream
from api.deps import BearerToken, Context, ServicesDep, StreamsDep
from api.protocol import openai as protocol
from api.responses import JSONBody, StreamBody
from shared.errors import NotFound

router = APIRouter(prefix="/v1", tags=["openai"])


@router.post("/chat/completions", name="openai.chat_completions", response_model=None)
async def chat_completions(
    body: protocol.ChatCompletionRequest,
    services: ServicesDep,
    streams: StreamsDep,
    ctx: Context,
    token: BearerToken,
) -> JSONBody | StreamBody:
    request = protocol.generation_request(body, services.settings.max_prompt_bytes)
    if body.stream:
        admitted, items = await open_stream(services, streams, ctx, token, body.model, request)
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        renderer = protocol.ChunkRenderer(
            admitted.job_id, int(admitted.submitted_at), body.model, include_usage=include_usage
        )
        headers = {**admitted.headers, **protocol.SSE_HEADERS, "X-Job-Id": admitted.job_id}
        return StreamBody(renderer.render(items), media_type="text/event-stream", headers=headers)
    admitted, completion = await complete(services, ctx, token, body.model, request)
    return JSONBody(
        protocol.chat_completion(completion, body.model).model_dump(),
        headers={**admitted.headers, "X-Job-Id": admitted.job_id},
    )


@router.get("/models", name="openai.models")
async def models(services: ServicesDep, ctx: Context, token: BearerToken) -> protocol.ModelList:
    return protocol.model_list(await listable_models(services, ctx, token))


@router.get("/models/{model}", name="openai.model")
async def model(model: str, services: ServicesDep, ctx: Context, token: BearerToken) -> protocol.ModelCard:
    for spec in await listable_models(services, ctx, token):
        if spec.name == model:
            return protocol.ModelCard(id=spec.name)
    raise NotFound(
        f"the model '{model}' does not exist or you do not have access to it", code="model_not_found"
    )
