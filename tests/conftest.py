"""Fixtures: a real Redis database of the tests' own, settings, the API in-process, users and tokens.

Tests use database 15 of REDIS_URL's server (override with TEST_REDIS_URL) and flush it before and after
each test, so they never touch another database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from api.main import create_app
from scheduler.main import serve as serve_scheduler
from shared.catalog import Catalog, load_catalog
from shared.config import Settings
from shared.passwords import PasswordService
from shared.redis import connect
from shared.users import ALL_MODELS, DEFAULT_SCOPES, User, UserStore
from worker.main import build_worker

TESTS = Path(__file__).parent
CATALOG_PATH = TESTS / "models.toml"
PASSWORD = "correct horse battery staple"


def _test_redis_url() -> str:
    explicit = os.environ.get("TEST_REDIS_URL")
    if explicit:
        return explicit
    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    head, _, _ = base.rpartition("/")
    return f"{head}/15"


REDIS_URL = _test_redis_url()
# Cheap Argon2 parameters keep the suite fast; the production defaults are measured by `bench login`.
FAST_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_cost": 8192, "argon2_parallelism": 1}


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "secret_key": secrets.token_urlsafe(48),
        "audit_key": secrets.token_urlsafe(48),
        "audit_sink": "none",
        "redis_url": REDIS_URL,
        "secureai_models": CATALOG_PATH,
        "rate_limit_requests": 1000,
        "worker_heartbeat_s": 0.5,
        **FAST_ARGON2,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = connect(REDIS_URL)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def catalog() -> Catalog:
    return load_catalog(CATALOG_PATH)


UserFactory = Callable[..., Coroutine[Any, Any, User]]


@pytest.fixture
def make_user(redis: Redis) -> UserFactory:
    hasher = PasswordService(time_cost=1, memory_cost=8192, parallelism=1, max_concurrent=4, max_waiting=100)

    async def create(
        name: str = "alice",
        *,
        password: str = PASSWORD,
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
        models: tuple[str, ...] = (ALL_MODELS,),
        max_tokens: int = 64,
        max_uses: int = 10,
        weight: float = 1.0,
    ) -> User:
        return await UserStore(redis).create(
            name,
            await hasher.hash(password),
            scopes=scopes,
            models=models,
            max_tokens=max_tokens,
            max_uses=max_uses,
            weight=weight,
        )

    return create


@pytest.fixture
async def client(redis: Redis, settings: Settings, catalog: Catalog) -> AsyncIterator[httpx.AsyncClient]:
    """The API in this process, over ASGI, with its lifespan running."""
    app = create_app(settings, catalog)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4711))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


class Pipeline:
    """A scheduler and workers running in this event loop (the in-process stand-in for the processes)."""

    def __init__(self, settings: Settings, catalog: Catalog) -> None:
        self.settings = settings
        self.catalog = catalog
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[Any]] = []
        self.workers: list[Any] = []

    async def start(self, *pools: str) -> None:
        self.tasks.append(asyncio.create_task(serve_scheduler(self.settings, self.catalog, self.stop)))
        for pool in pools:
            worker = build_worker(self.settings, self.catalog, pool, handle_signals=False)
            self.workers.append(worker)
            self.tasks.append(asyncio.create_task(worker.async_run()))
        await self.wait_for_workers(pools)

    async def wait_for_workers(self, pools: tuple[str, ...]) -> None:
        from shared.pools import read_pool

        redis = connect(self.settings.redis_url)
        try:
            for _ in range(200):
                healths = [await read_pool(redis, pool) for pool in pools]
                if all(h.workers and h.models for h in healths):
                    return
                await asyncio.sleep(0.05)
            raise TimeoutError(f"workers for {pools} did not report in")
        finally:
            await redis.aclose()

    async def close(self) -> None:
        self.stop.set()
        for worker in self.workers:
            worker.main_task and worker.main_task.cancel()
            await worker.close()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


@pytest.fixture
async def pipeline(redis: Redis, settings: Settings, catalog: Catalog) -> AsyncIterator[Pipeline]:
    running = Pipeline(settings, catalog)
    yield running
    await running.close()


async def login(http: httpx.AsyncClient, name: str = "alice", password: str = PASSWORD) -> str:
    response = await http.post("/auth/login", json={"username": name, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def scoped_token(
    http: httpx.AsyncClient,
    user_token: str,
    model: str = "echo",
    *,
    max_tokens: int = 32,
    uses: int = 1,
    scopes: list[str] | None = None,
) -> str:
    body: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "uses": uses}
    if scopes is not None:
        body["scopes"] = scopes
    response = await http.post(
        "/auth/scoped-token", json=body, headers={"Authorization": f"Bearer {user_token}"}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["llm_token"])
