"""Request and response bodies of the native API. Strict: wrong types are refused, not coerced."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.catalog import MODEL_NAME_PATTERN

STRICT = ConfigDict(strict=True, extra="forbid")


class LoginBody(BaseModel):
    model_config = STRICT

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class LoginResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth token type)
    expires_in: int


class ScopedTokenBody(BaseModel):
    model_config = STRICT

    model: str = Field(min_length=1, max_length=64)
    max_tokens: int = Field(ge=1, le=131_072)
    scopes: list[str] | None = Field(default=None, max_length=8)
    uses: int = Field(default=1, ge=1, le=10_000)


class ScopedTokenResponse(BaseModel):
    llm_token: str
    expires_in: int
    model: str
    max_tokens: int
    scopes: list[str]
    uses: int


class GenerateBody(BaseModel):
    """The seed-compatible generation request (also the body of `POST /api/v1/jobs`)."""

    model_config = STRICT

    prompt: str = Field(min_length=1)
    model: str = Field(pattern=MODEL_NAME_PATTERN)
    max_tokens: int | None = Field(default=None, ge=1, le=131_072)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: list[str] | None = Field(default=None, max_length=4)


class GenerateResponse(BaseModel):
    content: str
    model: str
    tokens_used: int
    latency_ms: float
    job_id: str


class JobAccepted(BaseModel):
    job_id: str
    status: str = "queued"
    queue_position: int
    poll_url: str
    stream_url: str


class ErrorBody(BaseModel):
    error: dict[str, Any]
