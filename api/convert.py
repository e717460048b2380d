"""Turning request bodies into what the gate and the backends work with."""

from __future__ import annotations

from api.schemas import GenerateBody
from shared.errors import PayloadTooLarge
from shared.jobs import GenerationRequest


def check_prompt_size(text: str, max_bytes: int) -> None:
    """413 when the prompt is over the configured size."""
    # Cheap bound first: a str of n code points is at most 4n bytes of UTF-8.
    if len(text) * 4 > max_bytes and len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise PayloadTooLarge(f"prompt over {max_bytes} bytes", code="prompt_too_large")


def generation_request(body: GenerateBody, max_prompt_bytes: int) -> GenerationRequest:
    """The request for a native generate/jobs body (max_tokens 0 = the token's budget)."""
    check_prompt_size(body.prompt, max_prompt_bytes)
    return GenerationRequest(
        max_tokens=body.max_tokens or 0,
        prompt=body.prompt,
        temperature=body.temperature,
        top_p=body.top_p,
        stop=tuple(body.stop or ()),
    )
