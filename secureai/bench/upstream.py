"""A deterministic OpenAI-compatible server for benchmarks: `python -m secureai.bench.upstream --port N`.

Answers `POST /v1/chat/completions` (whole or streamed, with usage when asked) with the same words every
time, and `GET /v1/models`. A bare ASGI app under uvicorn, so its own cost stays small and is the same
whether the gateway or the benchmark client calls it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

MODEL = "bench"
WORDS = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit")
PROMPT_TOKENS = 8
FAULT_PREFIX = "fault-"
FAULTS = ("status-429", "status-500", "garbage", "malformed", "cut", "no-done", "stall")
STALL_S = 120.0

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def answer_words(tokens: int) -> list[str]:
    """The pieces of every answer of `tokens` tokens: one word per token."""
    return [(" " if index else "") + WORDS[index % len(WORDS)] for index in range(tokens)]


class Upstream:
    """The ASGI app: `tokens` words per answer (fewer when max_tokens says so), `delay_s` between them."""

    def __init__(self, tokens: int, delay_s: float = 0.0) -> None:
        self.tokens = tokens
        self.delay_s = delay_s
        self.models = orjson.dumps(
            {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "bench"}]}
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if method == "GET" and path == "/v1/models":
            await _respond(send, 200, b"application/json", self.models)
        elif method == "POST" and path == "/v1/chat/completions":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            request = orjson.loads(body)
            model = str(request.get("model", ""))
            if model.startswith(FAULT_PREFIX):
                await self.fault(model.removeprefix(FAULT_PREFIX), receive, send)
            else:
                await self.complete(request, send)
        else:
            await _respond(send, 404, b"application/json", b'{"error":{"message":"not found"}}')

    async def complete(self, request: dict[str, Any], send: Send) -> None:
        words = answer_words(min(self.tokens, int(request.get("max_tokens") or self.tokens)))
        usage = {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": len(words),
            "total_tokens": PROMPT_TOKENS + len(words),
        }
        head = {"id": "chatcmpl-bench", "created": int(time.time()), "model": request.get("model", MODEL)}
        if not request.get("stream"):
            body = {
                **head,
                "object": "chat.completion",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(words)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            }
            await _respond(send, 200, b"application/json", orjson.dumps(body))
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        chunk = {**head, "object": "chat.completion.chunk"}

        def event(delta: dict[str, str], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return b"data: " + orjson.dumps({**chunk, "choices": [choice]}) + b"\n\n"

        await send(
            {
                "type": "http.response.body",
                "body": event({"role": "assistant", "content": ""}),
                "more_body": True,
            }
        )
        for word in words:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            await send({"type": "http.response.body", "body": event({"content": word}), "more_body": True})
        tail = event({}, "stop")
        if (request.get("stream_options") or {}).get("include_usage"):
            tail += b"data: " + orjson.dumps({**chunk, "choices": [], "usage": usage}) + b"\n\n"
        await send({"type": "http.response.body", "body": tail + b"data: [DONE]\n\n"})

    async def fault(self, kind: str, receive: Receive, send: Send) -> None:
        """Answer the way a broken, overloaded or cut-off server would."""
        if kind.startswith("status-") and kind.removeprefix("status-").isdigit():
            status = int(kind.removeprefix("status-"))
            error = {"message": f"upstream says {status}", "type": "server_error", "code": str(status)}
            await _respond(send, status, b"application/json", orjson.dumps({"error": error}))
            return
        if kind == "garbage":
            await _respond(send, 200, b"text/html", b"<html><body><h1>It works!</h1></body></html>\n")
            return
        if kind not in FAULTS:
            await _respond(send, 400, b"application/json", b'{"error":{"message":"unknown fault"}}')
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        words = answer_words(self.tokens)
        half = words[: max(1, len(words) // 2)]
        head = {"id": "chatcmpl-fault", "object": "chat.completion.chunk", "created": 0, "model": MODEL}
        for word in half if kind in ("cut", "no-done") else half[:1]:
            choice = {"index": 0, "delta": {"content": word}, "finish_reason": None}
            event = b"data: " + orjson.dumps({**head, "choices": [choice]}) + b"\n\n"
            await send({"type": "http.response.body", "body": event, "more_body": True})
        if kind == "malformed":
            await send({"type": "http.response.body", "body": b'data: {"choices": [\n\n'})
        elif kind == "no-done":
            await send({"type": "http.response.body", "body": b""})
        elif kind == "stall":
            # Nothing more until the client gives up and disconnects.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(receive(), STALL_S)
        # "cut" (and a stall that ends) returns with the response unfinished: uvicorn drops the connection.


async def _respond(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", content_type)]}
    )
    await send({"type": "http.response.body", "body": body})


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m secureai.bench.upstream", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tokens", type=int, default=16, help="words per answer")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="pause between streamed words")
    args = parser.parse_args(argv)
    uvicorn.run(
        Upstream(args.tokens, args.delay_ms / 1000.0),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http="httptools",
        loop="uvloop",
    )


if __name__ == "__main__":
    main()
