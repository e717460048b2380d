"""The real processes (api, scheduler, workers) started as subprocesses, driven over HTTP."""

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as sync_redis

from secureai.bench.harness import free_port
from secureai.stack import Stack, child_env
from shared import keys
from tests.conftest import CATALOG_PATH, REDIS_URL, UserFactory
from tests.processes import assert_no_tracebacks, gateway_env, login, mint, running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
async def alice(make_user: UserFactory) -> None:
    await make_user(max_tokens=64)


@pytest.fixture
def stack(redis: Any, tmp_path: Path) -> Iterator[Stack]:
    env = gateway_env(tmp_path, REDIS_URL)
    with running_stack(env, {"echo": None, "cpu": None}, tmp_path / "logs", timeout=90) as running:
        yield running
    assert_no_tracebacks(tmp_path / "logs")


def poll_until(http: httpx.Client, job_id: str, user: dict[str, str], statuses: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job: dict[str, Any] = http.get(f"/api/v1/jobs/{job_id}", headers=user).json()
        if job["status"] in statuses:
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} stuck in {job['status']}")


def test_one_request_through_every_process(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url, timeout=60) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        user = login(http)

        # A real completion from the embedded model.
        generated = http.post(
            "/api/v1/llm/generate",
            json={
                "prompt": "The capital of France is",
                "model": "gemma3-270m",
                "max_tokens": 24,
                "temperature": 0,
            },
            headers=mint(http, user, "gemma3-270m", max_tokens=24),
        )
        assert generated.status_code == 200, generated.text
        body = generated.json()
        assert body["model"] == "gemma3-270m" and body["content"].strip()
        assert 0 < body["tokens_used"] <= 24 + 16 and body["latency_ms"] > 0

        # Submit and poll, on the echo pool.
        accepted = http.post(
            "/api/v1/jobs",
            json={"prompt": "through every process", "model": "echo"},
            headers=mint(http, user, "echo", max_tokens=24),
        )
        assert accepted.status_code == 202
        job = poll_until(http, accepted.json()["job_id"], user, {"succeeded", "failed"})
        assert job["result"] == {"content": "through every process"}


def test_a_worker_stopped_mid_job_hands_its_job_to_another(stack: Stack) -> None:
    """SIGTERM the worker running a job: arq puts the job back and the second worker finishes it."""
    stack.start_worker("echo", "worker-echo-2")
    stack.wait_ready(timeout=30)
    peek = sync_redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        with httpx.Client(base_url=stack.url, timeout=30) as http:
            user = login(http)
            job_id = http.post(
                "/api/v1/jobs",
                json={"prompt": "a b c d e f", "model": "echo-slow"},
                headers=mint(http, user, "echo-slow", max_tokens=24),
            ).json()["job_id"]
            poll_until(http, job_id, user, {"running"})
            first_worker = peek.hget(keys.job(job_id), "worker")
            assert first_worker is not None
            pid = int(first_worker.split(":")[1])
            victim = next(name for name, process in stack.processes.items() if process.pid == pid)
            stack.stop(victim, grace=5)

            job = poll_until(http, job_id, user, {"succeeded", "failed"})
            assert job["status"] == "succeeded", job
            assert job["result"] == {"content": "a b c d e f"}
            assert peek.hget(keys.job(job_id), "worker") != first_worker
    finally:
        peek.close()


def test_metrics_add_up_across_api_worker_processes(redis: Any, tmp_path: Path) -> None:
    env = child_env(
        SECRET_KEY=secrets.token_urlsafe(48),
        AUDIT_KEY=secrets.token_urlsafe(48),
        AUDIT_SINK=f"file:{tmp_path / 'audit'}",
        REDIS_URL=REDIS_URL,
        SECUREAI_MODELS=str(CATALOG_PATH),
        LOG_LEVEL="WARNING",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    running = Stack(env=env, pools={"echo": None}, port=free_port(), api_workers=2, log_dir=tmp_path / "logs")
    running.start()
    try:
        running.wait_ready(timeout=60)
        with httpx.Client(base_url=running.url, timeout=30) as http:
            for _ in range(20):
                assert http.get("/healthz").status_code == 200
            text = http.get("/metrics").text
    finally:
        running.stop()
    # Whichever of the two processes answered each request, /metrics adds them all up.
    counted = sum(
        float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line.startswith('secureai_http_requests_total{method="GET",route="/healthz",status="200"}')
    )
    assert counted == 20
