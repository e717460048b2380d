"""`/api/generate`, `/api/chat`, `/api/tags`: the Ollama-compatible API, behind the same gate.

The scoped LLM token travels in `Authorization: Bearer` (`ollama.Client(headers=...)`).
"""

from __future__ import annotations

import time

from fastapi import APIRouter

from api.completions import complete, listable_models, open_stream
from api.deps import AnyToken, Context, ServicesDep, StreamsDep
from api.protocol import ollama as protocol
from api.responses import JSONBody, StreamBody
from shared.errors import NotFound
from shared.jobs import GenerationRequest

router = APIRouter(prefix="/api", tags=["ollama"])


@router.post("/generate", name="ollama.generate", response_model=None)
async def generate(
    body: protocol.GenerateRequest, services: ServicesDep, streams: StreamsDep, ctx: Context, token: AnyToken
) -> JSONBody | StreamBody:
    model = protocol.model_name(body.model)
    if not body.prompt and not body.system:
        # Ollama's "load the model" call: answered once the caller may use the model, nothing queued.
        if model not in {spec.name for spec in await listable_models(services, ctx, token)}:
            raise NotFound(f"model '{body.model}' not found", code="model_not_found")
        return JSONBody(protocol.load_response(body.model))
    request = protocol.generate_request(body, services.settings.max_prompt_bytes)
    return await _serve(services, streams, ctx, token, body.model, request, stream=body.stream, chat=False)


@router.post("/chat", name="ollama.chat", response_model=None)
async def chat(
    body: protocol.ChatRequest, services: ServicesDep, streams: StreamsDep, ctx: Context, token: AnyToken
) -> JSONBody | StreamBody:
    request = protocol.chat_request(body, services.settings.max_prompt_bytes)
    return await _serve(services, streams, ctx, token, body.model, request, stream=body.stream, chat=True)


@router.get("/tags", name="ollama.tags")
async def tags(services: ServicesDep, ctx: Context, token: AnyToken) -> JSONBody:
    return JSONBody(protocol.tags(await listable_models(services, ctx, token)))


@router.get("/version", name="ollama.version")
async def version() -> dict[str, str]:
    return {"version": protocol.VERSION}


async def _serve(
    services: ServicesDep,
    streams: StreamsDep,
    ctx: Context,
    token: str | None,
    name: str,
    request: GenerationRequest,
    *,
    stream: bool | None,
    chat: bool,
) -> JSONBody | StreamBody:
    model = protocol.model_name(name)
    if stream is not False:
        admitted, items = await open_stream(services, streams, ctx, token, model, request)
        renderer = protocol.LineRenderer(name, chat=chat, clock=time.monotonic)
        headers = {**admitted.headers, "X-Job-Id": admitted.job_id}
        return StreamBody(renderer.render(items), media_type=protocol.NDJSON, headers=headers)
    admitted, completion = await complete(services, ctx, token, model, request)
    render = protocol.chat_response if chat else protocol.generate_response
    return JSONBody(render(completion, name), headers={**admitted.headers, "X-Job-Id": admitted.job_id})
