"""The Ollama wire format: `/api/generate`, `/api/chat`, `/api/tags`, NDJSON streaming and errors.

Like Ollama itself, unknown fields and unknown options are ignored and `stream` defaults to true; a
field this gateway cannot honour (images, tools, a structured format, a raw context) is refused by
name when it asks for something.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from api.completions import Completion, Failed, Finished, Idle, StreamItem, Text, Usage
from api.convert import check_request
from shared.catalog import MODEL_NAME_PATTERN, ModelSpec
from shared.errors import BadRequest, GatewayError
from shared.jobs import GenerationRequest, Message

LENIENT = ConfigDict(strict=True, extra="ignore")
NDJSON = "application/x-ndjson"
DEFAULT_TAG = ":latest"
# What `GET /api/tags` reports as each model's modification time (the gateway has no model files).
EPOCH = "1970-01-01T00:00:00Z"
VERSION = "0.6.0"


# --- requests ------------------------------------------------------------------------------------------
class Options(BaseModel):
    """Runtime options; those that map onto a job are used, the rest (hints to Ollama) are ignored."""

    model_config = LENIENT

    num_predict: int | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: list[str] | None = Field(default=None, max_length=4)


class ChatMessage(BaseModel):
    model_config = LENIENT

    role: Literal["system", "user", "assistant"]
    content: str = ""
    images: list[str] | None = None
    tool_calls: list[Any] | None = None


class _Common(BaseModel):
    model_config = LENIENT

    model: str = Field(pattern=MODEL_NAME_PATTERN)
    stream: bool | None = True
    options: Options | None = None
    format: str | dict[str, Any] | None = None
    keep_alive: str | float | None = None
    think: bool | str | None = None
    logprobs: bool | None = None


class GenerateRequest(_Common):
    """`POST /api/generate`."""

    prompt: str | None = None
    system: str | None = None
    suffix: str | None = None
    template: str | None = None
    context: list[int] | None = None
    raw: bool | None = None
    images: list[str] | None = None


class ChatRequest(_Common):
    """`POST /api/chat`."""

    messages: list[ChatMessage] = Field(default_factory=list, max_length=1024)
    tools: list[Any] | None = None


def model_name(name: str) -> str:
    """The catalog name for an Ollama model reference (`phi:latest` is `phi`)."""
    return name[: -len(DEFAULT_TAG)] if name.endswith(DEFAULT_TAG) else name


def _refuse_unsupported(fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        if value:
            raise BadRequest(f"'{name}' is not supported by this gateway", code="unsupported_parameter")


def _request(body: _Common, *, prompt: str | None, messages: tuple[Message, ...]) -> GenerationRequest:
    options = body.options or Options()
    if body.format not in (None, ""):
        raise BadRequest("'format' is not supported by this gateway", code="unsupported_parameter")
    _refuse_unsupported({"think": body.think not in (None, False), "logprobs": body.logprobs})
    num_predict = options.num_predict
    return GenerationRequest(
        # Ollama's -1 (unbounded) and -2 (fill the context) mean the token's whole budget here.
        max_tokens=num_predict if num_predict is not None and num_predict > 0 else 0,
        prompt=prompt,
        messages=messages,
        temperature=options.temperature,
        top_p=options.top_p,
        stop=tuple(options.stop or ()),
    )


def generate_request(body: GenerateRequest, max_prompt_bytes: int) -> GenerationRequest:
    """The job for `/api/generate` (a `system` text makes it a two-message chat)."""
    _refuse_unsupported(
        {"images": body.images, "context": body.context, "suffix": body.suffix, "template": body.template}
    )
    prompt = body.prompt or ""
    if body.system:
        request = _request(
            body, prompt=None, messages=(Message("system", body.system), Message("user", prompt))
        )
    else:
        request = _request(body, prompt=prompt, messages=())
    check_request(request, max_prompt_bytes)
    return request


def chat_request(body: ChatRequest, max_prompt_bytes: int) -> GenerationRequest:
    """The job for `/api/chat`."""
    _refuse_unsupported({"tools": body.tools})
    if not body.messages:
        raise BadRequest("messages must not be empty", code="invalid_request")
    for message in body.messages:
        _refuse_unsupported({"images": message.images, "tool_calls": message.tool_calls})
    messages = tuple(Message(m.role, m.content) for m in body.messages)
    request = _request(body, prompt=None, messages=messages)
    check_request(request, max_prompt_bytes)
    return request


# --- responses -----------------------------------------------------------------------------------------
def timestamp(seconds: float | None = None) -> str:
    """Ollama's `created_at`: RFC 3339 in UTC."""
    moment = datetime.fromtimestamp(seconds, UTC) if seconds is not None else datetime.now(UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _ns(seconds: float) -> int:
    return max(0, int(seconds * 1e9))


def final_fields(usage: Usage, finish_reason: str, total_s: float, eval_s: float) -> dict[str, Any]:
    """The counters of a final response (durations in nanoseconds, as Ollama reports them)."""
    return {
        "done": True,
        "done_reason": finish_reason,
        "total_duration": _ns(total_s),
        "load_duration": 0,
        "prompt_eval_count": usage.prompt_tokens,
        "prompt_eval_duration": 0,
        "eval_count": usage.completion_tokens,
        "eval_duration": _ns(eval_s),
    }


def generate_response(completion: Completion, model: str) -> dict[str, Any]:
    started = completion.started_at or completion.created_at
    return {
        "model": model,
        "created_at": timestamp(completion.finished_at),
        "response": completion.content,
        **final_fields(
            completion.usage,
            completion.finish_reason,
            completion.finished_at - completion.created_at,
            completion.finished_at - started,
        ),
    }


def chat_response(completion: Completion, model: str) -> dict[str, Any]:
    body = generate_response(completion, model)
    body.pop("response")
    return {**body, "message": {"role": "assistant", "content": completion.content}}


def load_response(model: str) -> dict[str, Any]:
    """What Ollama answers to a generate without a prompt (a request to load the model)."""
    return {"model": model, "created_at": timestamp(), "response": "", "done": True, "done_reason": "load"}


def tags(specs: list[ModelSpec]) -> dict[str, Any]:
    return {
        "models": [
            {
                "name": spec.name,
                "model": spec.name,
                "modified_at": EPOCH,
                "size": 0,
                "digest": hashlib.sha256(spec.name.encode()).hexdigest(),
                "details": {
                    "parent_model": "",
                    "format": "",
                    "family": spec.backend,
                    "families": None,
                    "parameter_size": "",
                    "quantization_level": "",
                },
            }
            for spec in specs
        ]
    }


class LineRenderer:
    """Ollama's NDJSON stream for one generate or chat: a line per token, then a final line."""

    def __init__(self, model: str, *, chat: bool, clock: Any) -> None:
        self.model = model
        self.chat = chat
        self.clock = clock  # time.monotonic-like: durations are measured by this process
        self.started = clock()
        self.first_token: float | None = None

    def _line(self, text: str, **fields: Any) -> bytes:
        payload: dict[str, Any] = {"model": self.model, "created_at": timestamp()}
        if self.chat:
            payload["message"] = {"role": "assistant", "content": text}
        else:
            payload["response"] = text
        payload.update(fields)
        return orjson.dumps(payload) + b"\n"

    async def render(self, items: AsyncIterator[list[StreamItem]]) -> AsyncIterator[bytes]:
        async for batch in items:
            out: list[bytes] = []
            for item in batch:
                if isinstance(item, Text):
                    if self.first_token is None:
                        self.first_token = self.clock()
                    out.append(self._line(item.text, done=False))
                elif isinstance(item, Finished):
                    now = self.clock()
                    fields = final_fields(
                        item.usage, item.finish_reason, now - self.started, now - (self.first_token or now)
                    )
                    out.append(self._line("", **fields))
                elif isinstance(item, Failed):
                    out.append(orjson.dumps(error_body(item.error)) + b"\n")
                elif isinstance(item, Idle):
                    continue  # NDJSON has no comment lines; the connection's own keep-alive suffices
            if out:
                yield b"".join(out)


# --- errors --------------------------------------------------------------------------------------------
def error_object(status: int, code: str, message: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Ollama's `{"error": "<message>"}`, plus the gateway's stable code and details."""
    return {"error": message, "code": code, **(extra or {})}


def error_body(error: GatewayError) -> dict[str, Any]:
    return error_object(error.status, error.code, error.message, error.extra)
