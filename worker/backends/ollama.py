"""Models served by an Ollama server (`OLLAMA_BASE_URL`), through the official `ollama` client."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from typing import Any

import httpx
import ollama

from shared.catalog import ModelSpec
from shared.jobs import GenerationRequest
from worker.backends.base import BackendError, BackendUnavailable, Chunk

LIST_CACHE_S = 5.0


class OllamaBackend:
    """Streams chat or completion responses from Ollama."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        # Connect fast so a server that is down fails the job at once; reads wait as long as the model needs.
        self.client = ollama.AsyncClient(host=base_url, timeout=httpx.Timeout(None, connect=3.0))
        self._listed: tuple[float, set[str]] = (0.0, set())

    async def generate(self, spec: ModelSpec, request: GenerationRequest) -> AsyncGenerator[Chunk, None]:
        options: dict[str, Any] = {"num_predict": request.max_tokens}
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if request.top_p is not None:
            options["top_p"] = request.top_p
        if request.stop:
            options["stop"] = list(request.stop)
        try:
            if request.prompt is not None:
                completion = await self.client.generate(
                    model=spec.upstream, prompt=request.prompt, stream=True, options=options
                )
                async for piece in completion:
                    yield _chunk(piece.response or "", piece)
            else:
                messages = [{"role": m.role, "content": m.content} for m in request.messages]
                chat = await self.client.chat(
                    model=spec.upstream, messages=messages, stream=True, options=options
                )
                async for part in chat:
                    yield _chunk(part.message.content or "", part)
        except (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout):
            # The client wraps refused connections in ConnectionError only for whole responses.
            raise BackendUnavailable(f"Ollama at {self.base_url} is not answering") from None
        except ollama.ResponseError as exc:
            raise BackendError(f"Ollama refused the request ({exc.status_code}): {exc.error[:200]}") from None
        except httpx.HTTPError as exc:
            raise BackendError(f"Ollama connection failed: {type(exc).__name__}") from None

    async def available(self, spec: ModelSpec) -> bool:
        listed_at, names = self._listed
        if time.monotonic() - listed_at > LIST_CACHE_S:
            try:
                response = await self.client.list()
            except (ConnectionError, ollama.ResponseError, httpx.HTTPError):
                return False
            names = {str(model.model) for model in response.models}
            self._listed = (time.monotonic(), names)
        return spec.upstream in names or f"{spec.upstream}:latest" in names

    async def close(self) -> None:
        await self.client.close()  # type: ignore[no-untyped-call]


def _chunk(text: str, part: Any) -> Chunk:
    if part.done:
        return Chunk(text, prompt_tokens=part.prompt_eval_count, completion_tokens=part.eval_count)
    return Chunk(text)
