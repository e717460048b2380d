"""The in-process API served over real TCP (uvicorn in the test's event loop), for clients that need a
socket: the official `openai` and `ollama` clients, and websockets. Import `live_fixture` into a test module
to use the `live` fixture.

Synchronous clients must run in a thread (`asyncio.to_thread`), since the server shares the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from secureai.bench.harness import free_port
from tests.conftest import Pipeline, UserFactory, login, scoped_token


@dataclass
class Live:
    url: str
    http: httpx.AsyncClient  # the same app over ASGI, for set-up calls

    async def llm_token(
        self, model: str = "echo", *, uses: int = 5, max_tokens: int = 32, user: str = "alice"
    ) -> str:
        return await scoped_token(
            self.http, await login(self.http, user), model, uses=uses, max_tokens=max_tokens
        )

    async def user_token(self, user: str = "alice") -> str:
        return await login(self.http, user)


@pytest.fixture(name="live")
async def live_fixture(
    client: httpx.AsyncClient, make_user: UserFactory, pipeline: Pipeline
) -> AsyncIterator[Live]:
    """alice, the echo pool running, and the API listening on a free loopback port."""
    await make_user("alice", max_tokens=64, max_uses=100)
    await pipeline.start("echo")
    port = free_port()
    config = uvicorn.Config(
        client.app,  # type: ignore[attr-defined]
        host="127.0.0.1",
        port=port,
        lifespan="off",  # the `client` fixture already runs the app's lifespan
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield Live(url=f"http://127.0.0.1:{port}", http=client)
    finally:
        server.should_exit = True
        await task
