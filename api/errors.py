"""Every error leaves as JSON with the right status; never a traceback.

Native paths answer `{"error": {"code", "message"}}`; the compatible APIs answer in their own dialect
(OpenAI's `{"error": {"message", "type", "param", "code"}}` under `/v1/`, Ollama's `{"error": "..."}`
on its paths), so their official clients raise their usual exceptions.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.protocol import ollama, openai
from api.responses import JSONBody
from shared.errors import GatewayError
from shared.logs import request_id_var

logger = logging.getLogger(__name__)


OLLAMA_PATHS = frozenset({"/api/generate", "/api/chat", "/api/tags", "/api/version"})


def _dialect(path: str) -> str:
    if path.startswith("/v1/"):
        return "openai"
    return "ollama" if path in OLLAMA_PATHS else "native"


def error_response(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    *,
    path: str = "",
    extra: dict[str, Any] | None = None,
) -> JSONBody:
    dialect = _dialect(path)
    if dialect == "openai":
        body = openai.error_object(status, code, message, extra)
    elif dialect == "ollama":
        body = ollama.error_object(status, code, message, extra)
    else:
        body = {"error": {"code": code, "message": message, **(extra or {})}}
    return JSONBody(body, status_code=status, headers=headers)


async def gateway_error(request: Request, exc: Exception) -> JSONBody:
    assert isinstance(exc, GatewayError)
    return error_response(
        exc.status, exc.code, exc.message, exc.headers or None, path=request.url.path, extra=exc.extra
    )


async def validation_error(request: Request, exc: Exception) -> JSONBody:
    assert isinstance(exc, RequestValidationError)
    path = request.url.path
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return error_response(400, "invalid_json", "the request body is not valid JSON", path=path)
    first = errors[0] if errors else {}
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
    message = f"{where}: {first.get('msg', 'invalid value')}"
    if _dialect(path) == "native":
        return error_response(422, "invalid_request", message[:300])
    # OpenAI and Ollama answer 400 to a malformed request; OpenAI's wording for an unknown argument.
    if first.get("type") == "extra_forbidden":
        message = f"Unrecognized request argument supplied: {where}"
    return error_response(400, "invalid_request", message[:300], path=path, extra={"param": where})


async def http_error(request: Request, exc: Exception) -> JSONBody:
    assert isinstance(exc, StarletteHTTPException)
    codes = {400: "invalid_json", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
    message = exc.detail if isinstance(exc.detail, str) else "request refused"
    if exc.status_code == 400:
        # FastAPI's answer to a body it cannot decode at all: invalid UTF-8, nesting too deep to parse.
        message = "the request body is not valid JSON"
    headers = dict(exc.headers) if exc.headers else None
    return error_response(
        exc.status_code, codes.get(exc.status_code, "http_error"), message, headers, path=request.url.path
    )


async def redis_error(request: Request, exc: Exception) -> JSONBody:
    logger.warning("Redis unavailable", extra={"error": type(exc).__name__})
    return error_response(
        503,
        "unavailable",
        "a required service is unavailable; retry shortly",
        {"Retry-After": "1"},
        path=request.url.path,
    )


async def unexpected_error(request: Request, exc: Exception) -> JSONBody:
    logger.error("unhandled error", exc_info=exc)
    request_id = request_id_var.get() or ""
    return error_response(
        500, "internal_error", f"internal error (request id {request_id})", path=request.url.path
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(GatewayError, gateway_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RedisError, redis_error)
    app.add_exception_handler(ConnectionError, redis_error)
    app.add_exception_handler(Exception, unexpected_error)
