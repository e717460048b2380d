"""Turning request bodies into what the gate and the backends work with."""

from __future__ import annotations

from api.schemas import GenerateBody
from shared.errors import BadRequest, PayloadTooLarge
from shared.jobs import GenerationRequest


def check_prompt_size(text: str, max_bytes: int) -> None:
    """413 when the prompt is over the configured size."""
    # Cheap bound first: a str of n code points is at most 4n bytes of UTF-8.
    if len(text) * 4 > max_bytes and len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise PayloadTooLarge(f"prompt over {max_bytes} bytes", code="prompt_too_large")


def check_request(request: GenerationRequest, max_prompt_bytes: int) -> None:
    """413 when the prompt is over the configured size; 400 when any of its text is not valid Unicode."""
    text = request.text()
    check_prompt_size(text, max_prompt_bytes)
    for part in (text, *request.stop):
        # JSON's \u escapes can carry a lone surrogate, which no UTF-8 text (nor Redis, nor a model) holds.
        if not part.isascii():
            try:
                part.encode("utf-8")
            except UnicodeEncodeError:
                raise BadRequest(
                    "the request's text is not valid Unicode (it holds a lone surrogate)",
                    code="invalid_unicode",
                ) from None


def generation_request(body: GenerateBody, max_prompt_bytes: int) -> GenerationRequest:
    """The request for a native generate/jobs body (max_tokens 0 = the token's budget)."""
    request = GenerationRequest(
        max_tokens=body.max_tokens or 0,
        prompt=body.prompt,
        temperature=body.temperature,
        top_p=body.top_p,
        stop=tuple(body.stop or ()),
    )
    check_request(request, max_prompt_bytes)
    return request
