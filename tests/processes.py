"""Helpers for tests that run the real processes: a private redis-server, a gateway's environment, users.

The fault tests that restart Redis use a redis-server of their own (on a free port, AOF on, fsync on every
write), never the shared one.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis as sync_redis

from secureai.bench.harness import free_port
from secureai.stack import Stack, child_env
from shared import keys
from shared.passwords import PasswordService
from shared.redis import connect
from shared.users import ADMIN_SCOPES, ALL_MODELS, DEFAULT_SCOPES, UserStore
from tests.conftest import CATALOG_PATH, PASSWORD


class PrivateRedis:
    """A redis-server of the test's own: AOF with fsync on every write, so a SIGKILL loses no reply."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.directory),
                "--appendonly", "yes",
                "--appendfsync", "always",
                "--save", "",
                "--logfile", str(self.directory / "redis.log"),
            ],
        )  # fmt: skip
        client = sync_redis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            assert wait_for(lambda: _pings(client), 10), "the private redis-server did not start"
            # A restart answers while it still loads the AOF (LOADING); wait until it takes writes.
            assert wait_for(lambda: _writes(client), 10), "the private redis-server did not load its data"
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final save; only what was fsynced to the AOF survives."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _pings(client: sync_redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except sync_redis.RedisError:
        return False


def _writes(client: sync_redis.Redis) -> bool:
    try:
        client.set("sai:test:probe", "1")
        client.delete("sai:test:probe")
        return True
    except sync_redis.RedisError:
        return False


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def gateway_env(tmp_path: Path, redis_url: str, **overrides: str) -> dict[str, str]:
    """The environment of a test gateway: fresh secrets, the test catalog, cheap hashing, generous limits."""
    values = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "AUDIT_KEY": secrets.token_urlsafe(48),
        "AUDIT_SINK": f"file:{tmp_path / 'audit'}",
        "REDIS_URL": redis_url,
        "SECUREAI_MODELS": str(CATALOG_PATH),
        "SECUREAI_DATA_DIR": str(tmp_path / "data"),
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST": "8192",
        "RATE_LIMIT_REQUESTS": "100000",
        "WORKER_HEARTBEAT_S": "0.5",
        "MAX_TOKEN_USES": "100000",
        "MAX_QUEUED_PER_USER": "10000",
        "MAX_JOBS_IN_FLIGHT": "10000",
        "LOG_LEVEL": "WARNING",
    }
    values.update(overrides)
    return child_env(**values)


def assert_no_tracebacks(log_dir: Path, *markers: str) -> None:
    """No process of a test gateway logged a traceback (nor any of `markers`)."""
    for log in sorted(log_dir.glob("*.log")):
        text = log.read_text(errors="replace")
        for marker in ("Traceback", *markers):
            assert marker not in text, f"{log.name}:\n{text[-4000:]}"


def events(peek: sync_redis.Redis, job_id: str) -> list[dict[str, Any]]:
    """The events of a job's stream, oldest first (`peek` decodes responses)."""
    return [orjson.loads(fields["e"]) for _, fields in peek.xrange(keys.events(job_id))]


@contextlib.contextmanager
def running_stack(
    env: dict[str, str], pools: dict[str, int | None], log_dir: Path, *, timeout: float = 60
) -> Iterator[Stack]:
    """API, scheduler and one worker per pool, ready; stopped on exit."""
    stack = Stack(env=env, pools=pools, port=free_port(), log_dir=log_dir)
    stack.start()
    try:
        stack.wait_ready(timeout=timeout)
        yield stack
    finally:
        stack.stop()


def create_user(
    redis_url: str, name: str = "alice", *, max_tokens: int = 64, max_uses: int = 10_000, admin: bool = False
) -> None:
    """A user with the default scopes (every scope for an admin), every model and the tests' password."""

    async def create() -> None:
        redis = connect(redis_url, max_connections=2)
        try:
            hasher = PasswordService(
                time_cost=1, memory_cost=8192, parallelism=1, max_concurrent=1, max_waiting=1
            )
            await UserStore(redis).create(
                name,
                await hasher.hash(PASSWORD),
                scopes=ADMIN_SCOPES if admin else DEFAULT_SCOPES,
                models=(ALL_MODELS,),
                max_tokens=max_tokens,
                max_uses=max_uses,
                admin=admin,
            )
        finally:
            await redis.aclose()

    asyncio.run(create())


def login(http: httpx.Client, name: str = "alice") -> dict[str, str]:
    """Headers carrying a fresh user token."""
    response = http.post("/auth/login", json={"username": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def mint(
    http: httpx.Client, user: dict[str, str], model: str, *, uses: int = 1, max_tokens: int = 32
) -> dict[str, str]:
    """Headers carrying a scoped token for `model`."""
    response = http.post(
        "/auth/scoped-token", json={"model": model, "max_tokens": max_tokens, "uses": uses}, headers=user
    )
    assert response.status_code == 200, response.text
    return {"X-LLM-Token": response.json()["llm_token"]}
