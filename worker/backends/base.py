"""The one small interface every model backend implements."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol

from shared.catalog import ModelSpec
from shared.jobs import GenerationRequest


class BackendUnavailable(Exception):
    """The backend cannot be reached (server down, not configured)."""


class BackendError(Exception):
    """The backend answered, with an error the client should hear about (message is safe to show)."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of generated text; the last chunk may carry the backend's own token counts."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class Backend(Protocol):
    """Generates text for the models of one kind (`local`, `ollama`, `openai`, `echo`)."""

    def generate(self, spec: ModelSpec, request: GenerationRequest) -> AsyncGenerator[Chunk, None]:
        """Yield text as the model produces it. Closing the iterator stops the generation."""
        ...

    async def available(self, spec: ModelSpec) -> bool:
        """True when `spec` can be served right now."""
        ...

    async def close(self) -> None:
        """Release connections and models."""
        ...


def transcript(request: GenerationRequest) -> str:
    """A chat as plain text, for completion-only models."""
    if request.prompt is not None:
        return request.prompt
    lines = [f"{message.role.capitalize()}: {message.content}" for message in request.messages]
    return "\n".join([*lines, "Assistant:"])
