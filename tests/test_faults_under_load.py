"""Faults during a load run: workers killed again and again, Redis killed and restarted.

What must hold either way: every accepted (202) job ends, none is charged twice, each ends exactly once.
"""

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as sync_redis

from secureai.stack import Stack
from shared import keys
from tests.conftest import REDIS_URL
from tests.processes import (
    PrivateRedis,
    create_user,
    events,
    gateway_env,
    login,
    mint,
    running_stack,
    wait_for,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Load:
    """Clients submitting jobs, each for one model with a pause between submits; remembers every answer."""

    def __init__(self, url: str, clients: list[tuple[str, float, dict[str, str]]]) -> None:
        self.url = url
        self.accepted: list[str] = []
        self.statuses: list[tuple[float, int]] = []
        self.refusals: Counter[str] = Counter()  # error codes of the answers other than 202
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=client) for client in clients]

    def _run(self, model: str, pause_s: float, llm: dict[str, str]) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as http:
            sent = 0
            while not self.stop.is_set():
                sent += 1
                body = {"prompt": f"{model} job {sent}", "model": model, "max_tokens": 4}
                try:
                    response = http.post("/api/v1/jobs", json=body, headers=llm)
                except httpx.HTTPError:
                    status = 0
                else:
                    status = response.status_code
                with self.lock:
                    if status == 202:
                        self.accepted.append(response.json()["job_id"])
                    else:
                        self.refusals[_error_code(response) if status else "no answer"] += 1
                    self.statuses.append((time.monotonic(), status))
                time.sleep(pause_s)

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def since(self, moment: float) -> Counter[int]:
        with self.lock:
            return Counter(status for at, status in self.statuses if at >= moment)


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return f"status {response.status_code}"


# Refusals after the rate-limit step, which keep the request charged (the gate's design: a submission
# admitted past its quota and then refused still counts), and those before it, which do not.
CHARGED_REFUSALS = frozenset({"pool_unavailable", "model_unavailable", "queue_full", "pool_full"})
UNCHARGED_REFUSALS = frozenset({"busy", "rate_limited", "no answer"})


def statuses(peek: sync_redis.Redis, job_ids: list[str]) -> Counter[str]:
    return Counter(str(peek.hget(keys.job(job_id), "status")) for job_id in job_ids)


def test_workers_killed_repeatedly_under_load_end_every_job_once_and_charge_it_once(
    redis: Any, tmp_path: Path
) -> None:
    create_user(REDIS_URL)
    env = gateway_env(tmp_path, REDIS_URL)
    peek = sync_redis.Redis.from_url(REDIS_URL, decode_responses=True)
    with running_stack(env, {"echo": None}, tmp_path / "logs") as stack:
        stack.start_worker("echo", "spare-0")
        stack.wait_ready()
        with httpx.Client(base_url=stack.url, timeout=10) as http:
            user = login(http)
            slow, quick = (mint(http, user, model, uses=10_000) for model in ("echo-slow", "echo"))
            with Load(stack.url, [("echo-slow", 0.05, slow), ("echo", 0.05, quick)]) as load:
                for kills in range(1, 5):
                    victim = busiest_worker(stack, peek)
                    assert victim is not None, "no worker had a running job to kill"
                    stack.kill(victim)  # SIGKILL, mid-job
                    stack.start_worker("echo", f"spare-{kills}")
                    time.sleep(1.0)
            accepted = load.accepted
            assert len(accepted) > 40
            assert wait_for(lambda: set(statuses(peek, accepted)) <= {"succeeded", "failed"}, 60, 0.2), (
                statuses(peek, accepted)
            )
            jobs = [http.get(f"/api/v1/jobs/{job_id}", headers=user).json() for job_id in accepted]
            totals = http.get("/api/v1/usage", headers=user).json()["totals"]

    retried = 0
    for job in jobs:
        kinds = [event["type"] for event in events(peek, job["job_id"])]
        assert kinds.count("done") + kinds.count("error") == 1, (job["job_id"], kinds)
        retried += kinds.count("retry") > 0
        if job["status"] == "failed":  # killed on every one of its tries
            assert job["error"]["code"] == "worker_lost", job
    print(f"{len(jobs)} jobs, {retried} retried after a kill, {Counter(job['status'] for job in jobs)}")
    assert retried > 0, "no job was running on a killed worker"
    # Charged once: the ledger holds exactly the usage the jobs recorded (a failed job's tokens refunded).
    ledger = peek.hgetall(keys.ledger("alice"))
    tokens = sum(
        job["usage"]["prompt_tokens"] + job["usage"]["completion_tokens"]
        for job in jobs
        if job["status"] == "succeeded"
    )
    gpu_seconds = sum(job["usage"]["gpu_seconds"] for job in jobs)
    # A submission refused after admission stays charged (a worker killed can leave its pool without a
    # live worker for a moment): the refusals' codes say how many were.
    refusals = load.refusals
    assert set(refusals) <= CHARGED_REFUSALS | UNCHARGED_REFUSALS, refusals
    charged = len(jobs) + sum(refusals[code] for code in CHARGED_REFUSALS)
    assert int(ledger["requests"]) == charged == totals["requests"], refusals
    assert int(ledger["tokens"]) == tokens == totals["tokens"]
    assert float(ledger["gpu_seconds"]) == pytest.approx(gpu_seconds, abs=1e-5)
    assert totals["gpu_seconds"] == pytest.approx(gpu_seconds, abs=1e-5)
    assert peek.zcard(keys.in_flight("alice")) == 0  # every job's in-flight slot was given back
    assert peek.zcard(keys.inflight("echo")) == 0
    peek.close()


def busiest_worker(stack: Stack, peek: sync_redis.Redis) -> str | None:
    """The name of the live worker process running the most jobs, waiting a little for one to be busy."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        running: Counter[int] = Counter()
        for job_id in peek.zrange(keys.inflight("echo"), 0, -1):
            worker = peek.hget(keys.job(job_id), "worker")
            if worker:
                running[int(worker.split(":")[1])] += 1
        for pid, _ in running.most_common():
            for name, process in stack.processes.items():
                if process.pid == pid and process.poll() is None:
                    return name
        time.sleep(0.02)
    return None


def test_redis_killed_and_restarted_under_load_loses_no_accepted_job(
    private_redis: PrivateRedis, tmp_path: Path
) -> None:
    create_user(private_redis.url)
    env = gateway_env(tmp_path, private_redis.url)
    peek = sync_redis.Redis.from_url(private_redis.url, decode_responses=True)
    with running_stack(env, {"echo": None}, tmp_path / "logs") as stack:
        api_pid = stack.processes["api"].pid
        with httpx.Client(base_url=stack.url, timeout=10) as http:
            user = login(http)
            slow, quick = (mint(http, user, model, uses=10_000) for model in ("echo-slow", "echo"))
            # Slow jobs are running when Redis dies; quick ones leave worker slots free, so it polls.
            with Load(stack.url, [("echo-slow", 0.3, slow), ("echo", 0.02, quick)]) as load:
                assert wait_for(lambda: len(load.accepted) >= 20, 20)
                private_redis.kill()  # SIGKILL: only what the AOF fsynced survives
                down_at = time.monotonic()
                time.sleep(2.0)
                # While Redis is down the API lives, says it is not ready, and refuses with 503.
                assert http.get("/healthz").status_code == 200
                assert http.get("/readyz").status_code == 503
                during = load.since(down_at + 0.2)
                private_redis.start()
                up_at = time.monotonic()
                accepted_before = len(load.accepted)
                assert wait_for(lambda: len(load.accepted) >= accepted_before + 20, 30), load.since(up_at)
            assert set(during) == {503}, during
            # Recovered without a restart: the same API process accepts jobs again.
            assert stack.processes["api"].pid == api_pid and not stack.dead()
            accepted = load.accepted
            # Every accepted job ends, and a Redis outage is no reason for one to fail.
            assert wait_for(lambda: set(statuses(peek, accepted)) == {"succeeded"}, 60, 0.2), (
                statuses(peek, accepted),
                stack.dead(),
            )
            jobs = [http.get(f"/api/v1/jobs/{job_id}", headers=user).json() for job_id in accepted]
        assert not stack.dead()
    for job in jobs:
        history = events(peek, job["job_id"])
        assert [e["type"] for e in history].count("done") == 1, history
        # The text streamed as token events is the whole result: none was dropped while Redis was away.
        # A job whose worker missed its heartbeats runs again ("retry"): its text starts over there.
        assert {e.get("reason") for e in history if e["type"] == "retry"} <= {"worker lost"}, history
        last_retry = max((i for i, e in enumerate(history) if e["type"] == "retry"), default=-1)
        streamed = "".join(e["text"] for e in history[last_retry + 1 :] if e["type"] == "token")
        assert streamed == job["result"]["content"], history
    peek.close()
