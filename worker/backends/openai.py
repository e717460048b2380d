"""Models behind OpenAI or any OpenAI-compatible server (`OPENAI_BASE_URL`), via the official client."""

from __future__ import annotations

import importlib
from collections.abc import AsyncGenerator
from typing import Any

import openai
import orjson

from shared.catalog import ModelSpec
from shared.jobs import GenerationRequest
from worker.backends.base import BackendError, BackendUnavailable, Chunk


def _http_package() -> Any:
    """The HTTP package the openai client is built on (httpx, or httpx2 in later releases)."""
    base = next(c for c in openai.DefaultAsyncHttpxClient.__mro__ if not c.__module__.startswith("openai"))
    return importlib.import_module(base.__module__.partition(".")[0])


# Errors of a response already under way (a cut connection, a read timeout) are the HTTP package's own:
# the client wraps only those raised before the response begins.
_HTTP = _http_package()
STREAM_BROKE = "the connection to the OpenAI-compatible backend broke mid-answer"
STREAM_INCOMPLETE = "the OpenAI-compatible backend's stream ended before the answer was complete"
NOT_A_STREAM = "the OpenAI-compatible backend answered with something other than an event stream"


class OpenAIBackend:
    """Streams chat completions."""

    def __init__(self, api_key: str | None, base_url: str | None) -> None:
        self.configured = bool(api_key or base_url)
        self.client: openai.AsyncOpenAI | None = None
        if self.configured:
            # A self-hosted compatible server may need no key; the client insists on some value.
            self.client = openai.AsyncOpenAI(
                api_key=api_key or "unused",
                base_url=base_url,
                max_retries=0,
                timeout=openai.Timeout(600, connect=3),
            )

    async def generate(self, spec: ModelSpec, request: GenerationRequest) -> AsyncGenerator[Chunk, None]:
        if self.client is None:
            raise BackendUnavailable("no OpenAI backend configured (set OPENAI_API_KEY or OPENAI_BASE_URL)")
        if request.prompt is not None:
            messages: list[Any] = [{"role": "user", "content": request.prompt}]
        else:
            messages = [{"role": m.role, "content": m.content} for m in request.messages]
        try:
            # The raw event stream, parsed with orjson: the client's typed chunk objects cost more CPU per
            # token than the rest of the gateway's path does (see the README's benchmark notes).
            async with self.client.chat.completions.with_streaming_response.create(
                model=spec.upstream,
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
                timeout=spec.timeout_s,
                max_tokens=request.max_tokens,
                # Unset parameters are left out, so the server's own defaults apply.
                temperature=openai.omit if request.temperature is None else request.temperature,
                top_p=openai.omit if request.top_p is None else request.top_p,
                stop=list(request.stop) if request.stop else openai.omit,
            ) as response:
                if not response.headers.get("content-type", "").startswith("text/event-stream"):
                    raise BackendError(NOT_A_STREAM)
                complete = False
                async for line in response.iter_lines():
                    if line.startswith("data:") and line[5:].strip() == "[DONE]":
                        complete = True
                        continue
                    chunk = _event(line)
                    if chunk is not None:
                        yield chunk
                # The protocol ends every stream with [DONE]: without it, the answer was cut short.
                if not complete:
                    raise BackendError(STREAM_INCOMPLETE)
        except _HTTP.TimeoutException:
            raise TimeoutError("the OpenAI-compatible backend timed out") from None
        except _HTTP.HTTPError:
            raise BackendError(STREAM_BROKE) from None
        except openai.APITimeoutError:
            raise TimeoutError("the OpenAI-compatible backend timed out") from None
        except openai.APIConnectionError:
            raise BackendUnavailable("the OpenAI-compatible backend is not answering") from None
        except openai.APIStatusError as exc:
            raise BackendError(
                f"the OpenAI-compatible backend refused the request ({exc.status_code})"
            ) from None

    async def available(self, spec: ModelSpec) -> bool:
        if self.client is None:
            return False
        try:
            await self.client.models.list(timeout=5)
        except openai.OpenAIError:
            return False
        return True

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()


def _event(line: str) -> Chunk | None:
    """The text (and, at the end, the usage) of one server-sent event line other than `[DONE]`."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if not data:
        return None
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise BackendError("the OpenAI-compatible backend sent a malformed event") from None
    if not isinstance(event, dict):
        raise BackendError("the OpenAI-compatible backend sent a malformed event")
    if "error" in event:
        raise BackendError("the OpenAI-compatible backend failed mid-stream")
    text = ""
    choices = event.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        delta = choices[0].get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("content"), str):
            text = delta["content"]
    usage = event.get("usage")
    if isinstance(usage, dict):
        return Chunk(
            text, prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens")
        )
    return Chunk(text) if text else None
