"""Results delivery end to end: the real processes, driven by the official `openai` and `ollama` clients and
a websocket client. The `remote` pool's worker uses the `openai` backend against a loopback upstream, so a
request crosses client -> gateway -> queue -> worker -> OpenAI-compatible server and back.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import ollama
import openai
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from secureai.bench.harness import free_port
from secureai.bench.overhead import upstream
from secureai.bench.upstream import answer_words
from secureai.stack import Stack
from tests.conftest import CATALOG_PATH, PASSWORD, REDIS_URL, UserFactory
from tests.processes import assert_no_tracebacks, gateway_env, running_stack

pytestmark = pytest.mark.e2e

REMOTE_MODEL = """
[models."remote"]
backend = "openai"
upstream = "bench"
pool = "remote"
max_tokens = 64
timeout_s = 30
"""
UPSTREAM_WORDS = 6


@pytest.fixture(autouse=True)
async def alice(make_user: UserFactory) -> None:
    await make_user(max_tokens=64, max_uses=100)


@pytest.fixture
def env(redis: Any, tmp_path: Path) -> Iterator[dict[str, str]]:
    with upstream(UPSTREAM_WORDS) as server:
        catalog = tmp_path / "models.toml"
        catalog.write_text(CATALOG_PATH.read_text() + REMOTE_MODEL)
        yield gateway_env(
            tmp_path,
            REDIS_URL,
            SECUREAI_MODELS=str(catalog),
            OPENAI_BASE_URL=f"http://127.0.0.1:{server.port}/v1",  # type: ignore[attr-defined]
            OPENAI_API_KEY="e2e-upstream",  # the loopback upstream checks no key
        )


@pytest.fixture
def stack(env: dict[str, str], tmp_path: Path) -> Iterator[Stack]:
    with running_stack(env, {"echo": None, "remote": None}, tmp_path / "logs", timeout=90) as running:
        yield running
    assert_no_tracebacks(tmp_path / "logs")


@pytest.fixture
def replica(env: dict[str, str], stack: Stack, tmp_path: Path) -> Iterator[Stack]:
    """A second API process (with its own scheduler, as a second host would run) on the same Redis."""
    second = Stack(env=env, pools={}, port=free_port(), log_dir=tmp_path / "logs-replica")
    second.start()
    try:
        second.wait_ready(timeout=60, pools=[])
        yield second
    finally:
        second.stop()
        assert_no_tracebacks(tmp_path / "logs-replica")


def llm_token(base_url: str, model: str, *, uses: int = 10) -> str:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        login = http.post("/auth/login", json={"username": "alice", "password": PASSWORD})
        assert login.status_code == 200, login.text
        minted = http.post(
            "/auth/scoped-token",
            json={"model": model, "max_tokens": 32, "uses": uses},
            headers={"Authorization": f"Bearer {login.json()['access_token']}"},
        )
        assert minted.status_code == 200, minted.text
        return str(minted.json()["llm_token"])


EXPECTED = "".join(answer_words(UPSTREAM_WORDS))
ASK = [{"role": "user", "content": "say something"}]


def test_openai_sync_client_through_the_openai_backend(stack: Stack) -> None:
    token = llm_token(stack.url, "remote")
    with openai.OpenAI(base_url=f"{stack.url}/v1", api_key=token, max_retries=0) as client:
        whole = client.chat.completions.create(model="remote", messages=ASK)
        assert whole.choices[0].message.content == EXPECTED
        assert whole.usage is not None and whole.usage.completion_tokens == UPSTREAM_WORDS
        chunks = list(
            client.chat.completions.create(
                model="remote", messages=ASK, stream=True, stream_options={"include_usage": True}
            )
        )
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == EXPECTED
        assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > UPSTREAM_WORDS
        assert "remote" in [model.id for model in client.models.list()]
    with (
        openai.OpenAI(base_url=f"{stack.url}/v1", api_key="forged", max_retries=0) as client,
        pytest.raises(openai.AuthenticationError),
    ):
        client.chat.completions.create(model="remote", messages=ASK)


async def test_openai_async_client(stack: Stack) -> None:
    token = llm_token(stack.url, "echo")
    async with openai.AsyncOpenAI(base_url=f"{stack.url}/v1", api_key=token, max_retries=0) as client:
        whole = await client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "one two three"}], max_tokens=2
        )
        assert whole.choices[0].message.content == "one two" and whole.choices[0].finish_reason == "length"
        stream = await client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "four five"}], stream=True
        )
        assert "".join([c.choices[0].delta.content or "" async for c in stream]) == "four five"
        with pytest.raises(openai.PermissionDeniedError):
            await client.chat.completions.create(model="remote", messages=ASK)
        with pytest.raises(openai.BadRequestError):
            await client.chat.completions.create(model="echo", messages=ASK, n=3)


def test_ollama_client(stack: Stack) -> None:
    client = ollama.Client(
        host=stack.url, headers={"Authorization": f"Bearer {llm_token(stack.url, 'remote')}"}
    )
    assert client.generate(model="remote", prompt="anything").response == EXPECTED
    parts = list(client.chat(model="remote", messages=ASK, stream=True))
    assert "".join(p.message.content or "" for p in parts) == EXPECTED and parts[-1].done
    assert "remote" in [model.model for model in client.list().models]
    denied = ollama.Client(host=stack.url, headers={"Authorization": "Bearer forged"})
    with pytest.raises(ollama.ResponseError) as raised:
        denied.generate(model="remote", prompt="anything")
    assert raised.value.status_code == 401


async def test_websocket_stream_resumes_on_another_replica(stack: Stack, replica: Stack) -> None:
    token = llm_token(stack.url, "echo-slow")
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        submitted = await http.post(
            "/api/v1/jobs", json={"prompt": "a b c d e", "model": "echo-slow"}, headers={"X-LLM-Token": token}
        )
    assert submitted.status_code == 202
    stream_url = submitted.json()["stream_url"]
    auth = {"Authorization": f"Bearer {token}"}
    seen: list[dict[str, Any]] = []
    async with connect(stack.url.replace("http", "ws") + stream_url, additional_headers=auth) as ws:
        while not any(event["type"] == "token" for event in seen):
            seen.append(orjson.loads(await ws.recv()))
    # The first connection is gone; the job goes on, and the other API process picks up the stream.
    rest: list[dict[str, Any]] = []
    url = replica.url.replace("http", "ws") + f"{stream_url}?after={seen[-1]['id']}"
    async with connect(url) as ws:
        await ws.send(orjson.dumps({"token": token}).decode())
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                rest.append(orjson.loads(message))
        assert ws.close_code == 1000
    tokens = [event["text"] for event in seen + rest if event["type"] == "token"]
    assert "".join(tokens) == "a b c d e" and rest[-1]["type"] == "done"
    # Without a token, the replica closes the socket with a policy violation.
    async with connect(replica.url.replace("http", "ws") + stream_url) as ws:
        await ws.send("{}")
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:
                pass
        assert ws.close_code == 1008


def test_bench_overhead_runs_and_checks_its_arguments(redis: Any) -> None:
    """The benchmark itself, briefly, on the tests' database (it flushes the database it is given). A warm-up
    keeps the cold first request, which can take longer than a short window on a busy machine, out of it."""
    command = [sys.executable, "-m", "secureai", "bench", "overhead", "--redis-url", REDIS_URL]
    result = subprocess.run(
        [*command, "--clients", "1,2", "--seconds", "0.5", "--warmup", "0.5", "--tokens", "4"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith(("whole", "stream"))]
    assert [(row[0], row[1]) for row in rows] == [
        ("whole", "1"),
        ("whole", "2"),
        ("stream", "1"),
        ("stream", "2"),
    ]
    assert "added p50" in result.stdout and "failed" not in result.stdout
    refused = subprocess.run([*command, "--clients", "0"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
