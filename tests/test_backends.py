"""The backends against real servers: an Ollama-compatible one over HTTP (driven by the official `ollama`
client inside the backend), the loopback OpenAI-compatible upstream, and the embedded llama.cpp model."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn

from secureai.bench.harness import free_port
from secureai.bench.upstream import Upstream
from shared.catalog import ModelSpec
from shared.jobs import GenerationRequest, Message
from worker.backends import BackendError, BackendUnavailable, Chunk
from worker.backends.local import LocalBackend
from worker.backends.ollama import OllamaBackend
from worker.backends.openai import OpenAIBackend

Scope = dict[str, Any]


class FakeOllama:
    """Enough of Ollama's HTTP API: /api/tags, and /api/chat and /api/generate streaming NDJSON."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        if path == "/api/tags":
            await self._send(send, 200, [{"models": [{"name": "phi:latest", "model": "phi:latest"}]}])
            return
        request = orjson.loads(body)
        self.requests.append({"path": path, **request})
        if request["model"] not in ("phi", "phi:latest"):
            await self._send(send, 404, [{"error": f"model '{request['model']}' not found"}])
            return
        words = ["all", " good", " here"][: request.get("options", {}).get("num_predict", 3)]
        key = "message" if path == "/api/chat" else "response"
        lines = [
            {
                "model": "phi",
                "done": False,
                key: ({"role": "assistant", "content": w} if key == "message" else w),
            }
            for w in words
        ]
        final: dict[str, Any] = {"model": "phi", "done": True, "done_reason": "stop", "prompt_eval_count": 7,
                                 "eval_count": len(words)}  # fmt: skip
        final[key] = {"role": "assistant", "content": ""} if key == "message" else ""
        await self._send(send, 200, [*lines, final])

    async def _send(self, send: Any, status: int, lines: list[dict[str, Any]]) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/x-ndjson")]})  # fmt: skip
        body = b"".join(orjson.dumps(line) + b"\n" for line in lines)
        await send({"type": "http.response.body", "body": body})


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def spec(backend: str, upstream: str, **options: Any) -> ModelSpec:
    return ModelSpec(
        name=upstream,
        backend=backend,
        upstream=upstream,
        pool="p",
        max_tokens=256,
        timeout_s=30,
        options=options,
    )  # type: ignore[arg-type]


async def collect(stream: AsyncIterator[Chunk]) -> tuple[str, Chunk]:
    chunks = [chunk async for chunk in stream]
    return "".join(c.text for c in chunks), chunks[-1]


async def test_ollama_chat_and_generate_through_the_official_client() -> None:
    fake = FakeOllama()
    async with serve(fake) as url:
        backend = OllamaBackend(url)
        assert await backend.available(spec("ollama", "phi"))
        assert not await backend.available(spec("ollama", "mistral"))
        chat = GenerationRequest(
            max_tokens=3, messages=(Message("system", "be brief"), Message("user", "hi"))
        )
        text, last = await collect(backend.generate(spec("ollama", "phi"), chat))
        assert text == "all good here" and (last.prompt_tokens, last.completion_tokens) == (7, 3)
        text, _ = await collect(
            backend.generate(spec("ollama", "phi"), GenerationRequest(max_tokens=2, prompt="hi"))
        )
        assert text == "all good"
        await backend.close()
    assert fake.requests[0]["path"] == "/api/chat" and fake.requests[0]["messages"][0]["role"] == "system"
    assert fake.requests[0]["options"]["num_predict"] == 3
    assert fake.requests[1]["path"] == "/api/generate" and fake.requests[1]["prompt"] == "hi"


async def test_ollama_errors_are_clear() -> None:
    async with serve(FakeOllama()) as url:
        backend = OllamaBackend(url)
        with pytest.raises(BackendError, match=r"Ollama refused the request \(404\).*not found"):
            await collect(
                backend.generate(spec("ollama", "mistral"), GenerationRequest(max_tokens=3, prompt="x"))
            )
        await backend.close()
    down = OllamaBackend(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(BackendUnavailable, match="not answering"):
        await collect(down.generate(spec("ollama", "phi"), GenerationRequest(max_tokens=3, prompt="x")))
    assert not await down.available(spec("ollama", "phi"))
    await down.close()


async def test_openai_backend_streams_text_and_usage() -> None:
    async with serve(Upstream(tokens=4)) as url:
        backend = OpenAIBackend("key", f"{url}/v1")
        assert await backend.available(spec("openai", "bench"))
        request = GenerationRequest(max_tokens=3, messages=(Message("user", "hi"),), temperature=0.0)
        text, last = await collect(backend.generate(spec("openai", "bench"), request))
        assert text == "lorem ipsum dolor" and last.completion_tokens == 3 and last.prompt_tokens == 8
        await backend.close()
    down = OpenAIBackend("key", f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(BackendUnavailable):
        await collect(down.generate(spec("openai", "bench"), GenerationRequest(max_tokens=3, prompt="x")))
    unconfigured = OpenAIBackend(None, None)
    with pytest.raises(BackendUnavailable, match="no OpenAI backend configured"):
        await collect(
            unconfigured.generate(spec("openai", "bench"), GenerationRequest(max_tokens=3, prompt="x"))
        )


@pytest.fixture(scope="module")
def local() -> LocalBackend:
    return LocalBackend(Path(".secureai"))


async def test_local_model_stops_when_its_stream_is_closed(local: LocalBackend) -> None:
    gemma = spec("local", "gemma3-270m", n_ctx=512)
    long = GenerationRequest(
        max_tokens=200, prompt="Write a long story about a lighthouse keeper.", temperature=0.0
    )
    stream = local.generate(gemma, long)
    seen = 0
    async for chunk in stream:
        seen += bool(chunk.text)
        if seen == 3:
            break
    started = time.monotonic()
    await stream.aclose()  # what a cancel or a timeout does to a running generation
    stopped_in = time.monotonic() - started
    # The model is free again at once: a second generation runs to completion.
    text, last = await collect(
        local.generate(gemma, GenerationRequest(max_tokens=4, prompt="One, two,", temperature=0.0))
    )
    assert text.strip() and last.completion_tokens is not None and 0 < last.completion_tokens <= 4
    assert seen == 3
    print(f"local generation stopped {stopped_in * 1000:.1f} ms after close")


async def test_local_model_refuses_a_prompt_beyond_its_context(local: LocalBackend) -> None:
    gemma = spec("local", "gemma3-270m", n_ctx=512)
    huge = GenerationRequest(max_tokens=256, prompt="word " * 600)
    with pytest.raises(BackendError, match="exceeds the model's context"):
        await collect(local.generate(gemma, huge))
