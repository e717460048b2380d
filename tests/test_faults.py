"""Crashes of real processes: a worker or the scheduler killed with SIGKILL loses and duplicates nothing."""

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as sync_redis

from secureai.stack import Stack
from shared import keys
from tests.conftest import REDIS_URL, UserFactory
from tests.processes import events, gateway_env, login, mint, running_stack, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
async def alice(make_user: UserFactory) -> None:
    await make_user(max_tokens=64, max_uses=1000)


@pytest.fixture
def stack(redis: Any, tmp_path: Path) -> Iterator[Stack]:
    env = gateway_env(tmp_path, REDIS_URL)
    with running_stack(env, {"echo": None}, tmp_path / "logs") as running:
        yield running


@pytest.fixture
def peek() -> Iterator[sync_redis.Redis]:
    client = sync_redis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    client.close()


def test_a_worker_killed_mid_job_is_replaced_within_seconds(stack: Stack, peek: sync_redis.Redis) -> None:
    stack.start_worker("echo", "worker-echo-2")
    stack.wait_ready()
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        user = login(http)
        llm = mint(http, user, "echo-slow")
        job_id = http.post(
            "/api/v1/jobs", json={"prompt": "a b c d e f g h", "model": "echo-slow"}, headers=llm
        ).json()["job_id"]
        assert wait_for(lambda: peek.hget(keys.job(job_id), "status") == "running", 10)
        first_worker = peek.hget(keys.job(job_id), "worker")
        assert first_worker is not None
        victim = next(n for n, p in stack.processes.items() if p.pid == int(first_worker.split(":")[1]))
        killed_at = time.monotonic()
        stack.kill(victim)  # SIGKILL: no goodbye, no cleanup

        assert wait_for(lambda: peek.hget(keys.job(job_id), "status") == "succeeded", 30)
        recovered_in = time.monotonic() - killed_at
        job = http.get(f"/api/v1/jobs/{job_id}", headers=user).json()
    assert job["result"] == {"content": "a b c d e f g h"}
    assert peek.hget(keys.job(job_id), "worker") != first_worker
    kinds = [event["type"] for event in events(peek, job_id)]
    assert kinds.count("retry") == 1 and kinds.count("done") == 1
    assert recovered_in < 15, f"took {recovered_in:.1f} s"


def test_a_job_whose_workers_keep_dying_fails_after_its_tries(stack: Stack, peek: sync_redis.Redis) -> None:
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        user = login(http)
        llm = mint(http, user, "echo-slow")
        # Forty words at 0.2 s each: the job never ends on its own within this test.
        prompt = " ".join(["the quick brown fox jumps over the lazy dog and runs"] * 4)
        job_id = http.post("/api/v1/jobs", json={"prompt": prompt, "model": "echo-slow"}, headers=llm).json()[
            "job_id"
        ]
        previous = None
        for attempt in range(1, 4):
            # Wait for a new worker to have claimed it, then kill that one too.
            claimed = lambda seen=previous: peek.hget(keys.job(job_id), "worker") not in (None, seen)  # noqa: E731
            assert wait_for(claimed, 20), attempt
            previous = peek.hget(keys.job(job_id), "worker")
            assert previous is not None
            stack.start_worker("echo", f"worker-echo-spare{attempt}")
            stack.kill(next(n for n, p in stack.processes.items() if p.pid == int(previous.split(":")[1])))
        assert wait_for(lambda: peek.hget(keys.job(job_id), "status") == "failed", 30)
        job = http.get(f"/api/v1/jobs/{job_id}", headers=user).json()
    assert job["error"]["code"] == "worker_lost"
    assert "stopped 3 times" in job["error"]["message"]
    assert [event["type"] for event in events(peek, job_id)].count("retry") == 3


def test_scheduler_killed_repeatedly_loses_and_duplicates_nothing(
    stack: Stack, peek: sync_redis.Redis
) -> None:
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        llm = mint(http, login(http), "echo", uses=1000)
        job_ids = []
        for i in range(150):
            response = http.post("/api/v1/jobs", json={"prompt": f"job {i}", "model": "echo"}, headers=llm)
            assert response.status_code == 202, response.text
            job_ids.append(response.json()["job_id"])
            if i % 25 == 10:
                stack.processes["scheduler"].send_signal(signal.SIGKILL)
                stack.processes["scheduler"].wait()
                stack._spawn("scheduler", "scheduler")
        done = wait_for(lambda: all(peek.hget(keys.job(j), "status") == "succeeded" for j in job_ids), 60)
    assert done, status_counts(peek, job_ids)
    for job_id in job_ids:
        kinds = [event["type"] for event in events(peek, job_id)]
        assert kinds.count("started") == 1 and kinds.count("done") == 1, (job_id, kinds)
    assert peek.get(keys.pool_waiting("echo")) in (None, "0")  # None: every job went straight to the pool
    assert peek.zcard(keys.inflight("echo")) == 0
    assert peek.zcard(keys.in_flight("alice")) == 0  # every job's quota slot settled


def status_counts(peek: sync_redis.Redis, job_ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for job_id in job_ids:
        status = str(peek.hget(keys.job(job_id), "status"))
        counts[status] = counts.get(status, 0) + 1
    return counts


def test_readiness_flips_when_the_worker_stops(stack: Stack) -> None:
    def echo_down() -> bool:
        # The test catalog has pools nobody serves here; readiness is judged on the echo pool.
        response = httpx.get(f"{stack.url}/readyz", timeout=5)
        assert response.status_code in (200, 503)
        return "echo" in response.json()["pools_down"]

    assert not echo_down()
    stack.kill("worker-echo")
    assert wait_for(echo_down, 10)
    stack.start_worker("echo", "worker-echo-again")
    assert wait_for(lambda: not echo_down(), 30)
