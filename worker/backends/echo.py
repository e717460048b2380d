"""A deterministic backend for tests and benchmarks: it answers with the words it was given.

Options (catalog `options`): `delay_s` between tokens, `service_s` a fixed time before the first token,
`fail` an error message to fail with. Never in the shipped catalog.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from shared.catalog import ModelSpec
from shared.jobs import GenerationRequest
from worker.backends.base import BackendError, Chunk


class EchoBackend:
    """Echoes the prompt (or the last user message) back, one word per token."""

    def __init__(self) -> None:
        self.closed = False

    async def generate(self, spec: ModelSpec, request: GenerationRequest) -> AsyncGenerator[Chunk, None]:
        options = spec.options
        if options.get("fail"):
            raise BackendError(str(options["fail"]))
        text = request.prompt if request.prompt is not None else _last_user_message(request)
        words = text.split()
        service_s = float(options.get("service_s", 0.0))
        delay_s = float(options.get("delay_s", 0.0))
        if service_s:
            await asyncio.sleep(service_s)
        emitted = words[: request.max_tokens]
        for index, word in enumerate(emitted):
            if delay_s:
                await asyncio.sleep(delay_s)
            piece = word if index == 0 else " " + word
            if index == len(emitted) - 1:
                yield Chunk(piece, prompt_tokens=len(words), completion_tokens=len(emitted))
            else:
                yield Chunk(piece)
        if not emitted:
            yield Chunk("", prompt_tokens=0, completion_tokens=0)

    async def available(self, spec: ModelSpec) -> bool:
        return True

    async def close(self) -> None:
        self.closed = True


def _last_user_message(request: GenerationRequest) -> str:
    for message in reversed(request.messages):
        if message.role == "user":
            return message.content
    return ""
