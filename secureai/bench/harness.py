"""A throwaway gateway for a benchmark: its own Redis database, catalog, secrets and processes."""

from __future__ import annotations

import asyncio
import os
import platform
import secrets
import socket
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from redis.asyncio import Redis

from secureai.stack import Stack, child_env
from shared.passwords import PasswordService
from shared.redis import connect
from shared.users import ADMIN_SCOPES, ALL_MODELS, UserStore

BENCH_DB = 13


def echo_catalog(*, service_s: float = 0.0, timeout_s: float = 30) -> str:
    """A catalog of one echo model, `echo`, on pool `bench` (a fixed `service_s` before each answer)."""
    options = f"options = {{ service_s = {service_s} }}\n" if service_s else ""
    return (
        '[models."echo"]\nbackend = "echo"\nupstream = "echo"\npool = "bench"\nmax_tokens = 64\n'
        f"timeout_s = {timeout_s}\n{options}"
    )


BENCH_PASSWORD_BYTES = 24


def bench_redis_url(explicit: str | None) -> str:
    """`explicit`, else REDIS_URL (or the local default) pointed at the benchmark database."""
    if explicit:
        return explicit
    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    head, _, _ = base.rpartition("/")
    return f"{head}/{BENCH_DB}" if head.startswith(("redis://", "rediss://")) else base


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[max(0, min(998, round(q * 1000) - 1))]


def rss_mib(pid: int) -> float:
    """Resident memory of a process, MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"


@dataclass
class Gateway:
    stack: Stack
    redis_url: str
    username: str
    password: str

    def login(self, client: httpx.Client) -> str:
        response = client.post("/auth/login", json={"username": self.username, "password": self.password})
        response.raise_for_status()
        return str(response.json()["access_token"])

    def add_user(self, name: str) -> str:
        """Another user with the bench user's rights; returns its password."""
        password = secrets.token_urlsafe(BENCH_PASSWORD_BYTES)
        asyncio.run(_create_user(self.redis_url, name, password, CHEAP_HASH))
        return password

    def scoped_token(
        self, client: httpx.Client, user_token: str, model: str, *, uses: int, max_tokens: int
    ) -> str:
        response = client.post(
            "/auth/scoped-token",
            json={"model": model, "max_tokens": max_tokens, "uses": uses},
            headers={"Authorization": f"Bearer {user_token}"},
        )
        response.raise_for_status()
        return str(response.json()["llm_token"])


CHEAP_HASH = {"time_cost": 1, "memory_cost": 8192, "parallelism": 1}


async def _prepare(redis_url: str, username: str, password: str, hash_params: dict[str, int]) -> None:
    redis: Redis = connect(redis_url, max_connections=2)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()
    await _create_user(redis_url, username, password, hash_params)


async def _create_user(redis_url: str, username: str, password: str, hash_params: dict[str, int]) -> None:
    redis: Redis = connect(redis_url, max_connections=2)
    try:
        hasher = PasswordService(**hash_params, max_concurrent=1, max_waiting=0)
        await UserStore(redis).create(
            username,
            await hasher.hash(password),
            scopes=ADMIN_SCOPES,
            models=[ALL_MODELS],
            max_tokens=4096,
            max_uses=1_000_000,
            admin=True,
        )
    finally:
        await redis.aclose()


async def _flush(redis_url: str) -> None:
    redis: Redis = connect(redis_url, max_connections=1)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


@contextmanager
def gateway(
    catalog_toml: str,
    pools: dict[str, int | None],
    *,
    redis_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    api_workers: int = 1,
    hash_params: dict[str, int] | None = None,
    worker_processes: int = 1,
) -> Iterator[Gateway]:
    """Start a gateway on a flushed benchmark database; stop it and flush again on exit.

    The bench user's password is hashed with `hash_params` (cheap ones unless given). Each pool gets
    `worker_processes` workers.
    """
    url = bench_redis_url(redis_url)
    password = secrets.token_urlsafe(BENCH_PASSWORD_BYTES)
    asyncio.run(_prepare(url, "bench", password, hash_params or CHEAP_HASH))
    with tempfile.TemporaryDirectory(prefix="secureai-bench-") as tmp:
        catalog = Path(tmp) / "models.toml"
        catalog.write_text(catalog_toml)
        # Limits out of the way: a benchmark measures the path, not the quotas (bench limits does those).
        settings = {
            "SECRET_KEY": secrets.token_urlsafe(48),
            "AUDIT_KEY": secrets.token_urlsafe(48),
            "AUDIT_SINK": f"file:{Path(tmp) / 'audit'}",
            "REDIS_URL": url,
            "SECUREAI_MODELS": str(catalog),
            "SECUREAI_DATA_DIR": str(Path(tmp) / "data"),
            "RATE_LIMIT_REQUESTS": "1000000000",
            "RATE_LIMIT_TOKENS": "1000000000000",
            "GPU_SECONDS_PER_HOUR": "1000000000",
            "GPU_SECONDS_PER_DAY": "1000000000",
            "MAX_JOBS_IN_FLIGHT": "1000000",
            "MAX_QUEUED_PER_USER": "1000000",
            "MAX_TOKEN_USES": "1000000",
            "LOGIN_ATTEMPTS_PER_CLIENT": "1000000",
            "LOGIN_ATTEMPTS_PER_USER": "1000000",
            "LOG_LEVEL": "WARNING",
        }
        settings.update(extra_env or {})
        env = child_env(**settings)
        stack = Stack(
            env=env, pools=pools, port=free_port(), api_workers=api_workers, log_dir=Path(tmp) / "logs"
        )
        stack.start()
        for pool, slots in pools.items():
            for index in range(2, worker_processes + 1):
                stack.start_worker(pool, f"worker-{pool}-{index}", slots)
        try:
            stack.wait_ready(timeout=60)
            yield Gateway(stack=stack, redis_url=url, username="bench", password=password)
        finally:
            stack.stop()
            asyncio.run(_flush(url))
