"""The OpenAI wire format: chat completions, models, streamed chunks and errors.

Pydantic models mirror what the official clients send and expect. Requests are strict like OpenAI's
own API: an unknown parameter is refused, and a known one this gateway cannot honour (several choices,
tools, logprobs, penalties) is refused by name instead of being silently ignored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from api.completions import Completion, Failed, Finished, Idle, StreamItem, Text, Usage
from api.convert import check_request
from shared.catalog import MODEL_NAME_PATTERN, ModelSpec
from shared.errors import BadRequest, GatewayError
from shared.jobs import GenerationRequest, Message

STRICT = ConfigDict(strict=True, extra="forbid")
OWNER = "secureai"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": keep-alive\n\n"


# --- requests ------------------------------------------------------------------------------------------
class TextPart(BaseModel):
    model_config = STRICT

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")  # e.g. `refusal: null` echoed back by SDKs

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None
    name: str | None = Field(default=None, max_length=64)


class StreamOptions(BaseModel):
    model_config = STRICT

    include_usage: bool = False
    include_obfuscation: bool | None = None


class ChatCompletionRequest(BaseModel):
    """`POST /v1/chat/completions`: the subset of OpenAI's parameters a queued generation can honour."""

    model_config = STRICT

    model: str = Field(pattern=MODEL_NAME_PATTERN)
    messages: list[ChatMessage] = Field(min_length=1, max_length=1024)
    max_tokens: int | None = Field(default=None, ge=1, le=131_072)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=131_072)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    # Accepted for compatibility; none changes what a job does.
    user: str | None = Field(default=None, max_length=256)
    seed: int | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    service_tier: str | None = None
    parallel_tool_calls: bool | None = None
    # Refused unless at their neutral value (checked by `generation_request`, which names the parameter).
    n: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    logit_bias: dict[str, float] | None = None
    tools: list[Any] | None = None
    tool_choice: Any = None
    functions: list[Any] | None = None
    function_call: Any = None
    response_format: dict[str, Any] | None = None
    modalities: list[str] | None = None
    audio: Any = None
    prediction: Any = None
    reasoning_effort: str | None = None
    web_search_options: Any = None


def _neutral(body: ChatCompletionRequest) -> dict[str, bool]:
    """Each refusable parameter: True when its value asks for nothing beyond a plain completion."""
    return {
        "n": body.n in (None, 1),
        "presence_penalty": not body.presence_penalty,
        "frequency_penalty": not body.frequency_penalty,
        "logprobs": not body.logprobs,
        "top_logprobs": not body.top_logprobs,
        "logit_bias": not body.logit_bias,
        "tools": not body.tools,
        "tool_choice": body.tool_choice in (None, "none"),
        "functions": not body.functions,
        "function_call": body.function_call in (None, "none"),
        "response_format": body.response_format in (None, {"type": "text"}),
        "modalities": body.modalities in (None, ["text"]),
        "audio": body.audio is None,
        "prediction": body.prediction is None,
        "reasoning_effort": body.reasoning_effort is None,
        "web_search_options": body.web_search_options is None,
    }


def generation_request(body: ChatCompletionRequest, max_prompt_bytes: int) -> GenerationRequest:
    """The job for a chat completion request; 400 naming the first parameter it cannot honour."""
    for name, neutral in _neutral(body).items():
        if not neutral:
            raise BadRequest(
                f"'{name}' is not supported by this gateway",
                code="unsupported_parameter",
                extra={"param": name},
            )
    if body.max_tokens and body.max_completion_tokens and body.max_tokens != body.max_completion_tokens:
        raise BadRequest(
            "max_tokens and max_completion_tokens disagree; send one of them",
            code="invalid_value",
            extra={"param": "max_completion_tokens"},
        )
    messages: list[Message] = []
    for index, message in enumerate(body.messages):
        if message.content is None:
            raise BadRequest(
                "every message needs text content", code="invalid_value", extra={"param": f"messages.{index}"}
            )
        content = message.content
        text = content if isinstance(content, str) else "\n".join(part.text for part in content)
        role = "system" if message.role == "developer" else message.role
        messages.append(Message(role, text))
    request = GenerationRequest(
        max_tokens=body.max_completion_tokens or body.max_tokens or 0,
        messages=tuple(messages),
        temperature=body.temperature,
        top_p=body.top_p,
        stop=_stops(body.stop),
    )
    check_request(request, max_prompt_bytes)
    return request


def _stops(stop: str | list[str] | None) -> tuple[str, ...]:
    if stop is None:
        return ()
    stops = (stop,) if isinstance(stop, str) else tuple(stop)
    if len(stops) > 4 or any(not item for item in stops):
        raise BadRequest(
            "stop takes up to 4 non-empty strings", code="invalid_value", extra={"param": "stop"}
        )
    return stops


# --- responses -----------------------------------------------------------------------------------------
class UsageInfo(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def of(cls, usage: Usage) -> UsageInfo:
        return cls(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
        )


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: str
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: UsageInfo
    system_fingerprint: None = None


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: str | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: UsageInfo | None = None
    system_fingerprint: None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = OWNER


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def completion_id(job_id: str) -> str:
    return f"chatcmpl-{job_id}"


def chat_completion(completion: Completion, model: str) -> ChatCompletion:
    return ChatCompletion(
        id=completion_id(completion.job_id),
        created=int(completion.created_at),
        model=model,
        choices=[
            Choice(
                message=AssistantMessage(content=completion.content), finish_reason=completion.finish_reason
            )
        ],
        usage=UsageInfo.of(completion.usage),
    )


def model_list(specs: list[ModelSpec]) -> ModelList:
    return ModelList(data=[ModelCard(id=spec.name) for spec in specs])


class ChunkRenderer:
    """Server-sent events for one streamed completion, in `ChatCompletionChunk`'s shape.

    Only the delta and the finish reason change from chunk to chunk, so the rest of each event is
    serialized once per stream and the text is spliced in (tests check the result against the model).
    """

    def __init__(self, job_id: str, created: int, model: str, *, include_usage: bool) -> None:
        self.include_usage = include_usage
        head = {"id": completion_id(job_id), "object": "chat.completion.chunk", "created": created}
        self._head = b'data: {"choices":[{"index":0,"delta":'
        self._tail = (
            b',"logprobs":null}],'
            + orjson.dumps({**head, "model": model, "system_fingerprint": None})[1:-1]
            + (b',"usage":null' if include_usage else b"")
            + b"}\n\n"
        )
        self._usage_head = b'data: {"choices":[],' + orjson.dumps({**head, "model": model})[1:-1]

    def chunk(self, delta: dict[str, str], finish_reason: str | None = None) -> bytes:
        return (
            self._head + orjson.dumps(delta) + b',"finish_reason":' + orjson.dumps(finish_reason) + self._tail
        )

    def usage(self, usage: Usage) -> bytes:
        return self._usage_head + b',"usage":' + orjson.dumps(UsageInfo.of(usage).model_dump()) + b"}\n\n"

    async def render(self, items: AsyncIterator[list[StreamItem]]) -> AsyncIterator[bytes]:
        """The whole event stream: a role chunk, text chunks, the finish, usage if asked, `[DONE]`."""
        yield self.chunk({"role": "assistant", "content": ""})
        async for batch in items:
            out: list[bytes] = []
            for item in batch:
                if isinstance(item, Text):
                    out.append(self.chunk({"content": item.text}))
                elif isinstance(item, Finished):
                    out.append(self.chunk({}, item.finish_reason))
                    if self.include_usage:
                        out.append(self.usage(item.usage))
                    out.append(DONE)
                elif isinstance(item, Failed):
                    # Past the status line, an error travels as an event; the SDKs raise `APIError`.
                    out.append(b"data: " + orjson.dumps(error_body(item.error)) + b"\n\n")
                elif isinstance(item, Idle):
                    out.append(KEEPALIVE)
            yield b"".join(out)


# --- errors --------------------------------------------------------------------------------------------
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def error_object(status: int, code: str, message: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """`{"error": {"message", "type", "param", "code", ...}}`: OpenAI's shape, plus the gateway's details."""
    details = dict(extra or {})
    param = details.pop("param", None)
    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code, **details}}


def error_body(error: GatewayError) -> dict[str, Any]:
    return error_object(error.status, error.code, error.message, error.extra)
