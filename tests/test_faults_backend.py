"""A misbehaving OpenAI-compatible upstream: every fault fails its job cleanly, once, and is billed fairly.

The upstream (`secureai.bench.upstream`) misbehaves on purpose for models named `fault-<kind>`. Failed jobs
are not retried: a 429 or 5xx from the upstream is the upstream's answer, and running the job again would
hold a worker slot (or bill a paid upstream) for a request the client can resubmit itself. What must hold:
the client hears a clear error with the right status, the token reservation is refunded in full, the
GPU-seconds (wall time here, no GPU) the job held its slot for are charged, and the job ends exactly once.
"""

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import redis as sync_redis

from secureai.bench.overhead import upstream
from secureai.stack import Stack
from shared import keys
from tests.processes import (
    PrivateRedis,
    assert_no_tracebacks,
    create_user,
    gateway_env,
    login,
    mint,
    running_stack,
)

pytestmark = pytest.mark.e2e

STALL_TIMEOUT_S = 1.0
FAULTS = {
    # model: (upstream fault, status the waiting client gets, error code, words in the message)
    "remote-429": ("status-429", 502, "backend_error", "refused the request (429)"),
    "remote-500": ("status-500", 502, "backend_error", "refused the request (500)"),
    "remote-garbage": ("garbage", 502, "backend_error", "something other than an event stream"),
    "remote-malformed": ("malformed", 502, "backend_error", "malformed event"),
    "remote-cut": ("cut", 502, "backend_error", "broke mid-answer"),
    "remote-no-done": ("no-done", 502, "backend_error", "ended before the answer was complete"),
    "remote-stall": ("stall", 504, "timeout", f"did not finish within {STALL_TIMEOUT_S:g} s"),
}


def catalog() -> str:
    upstreams = {"remote-ok": "bench", **{model: f"fault-{fault}" for model, (fault, *_) in FAULTS.items()}}
    entries = []
    for model, name in upstreams.items():
        timeout = STALL_TIMEOUT_S if name == "fault-stall" else 10
        entries.append(
            f'[models."{model}"]\nbackend = "openai"\nupstream = "{name}"\npool = "remote"\n'
            f"max_tokens = 64\ntimeout_s = {timeout}\n"
        )
    return "\n".join([*entries, "[pools.remote]\nconcurrency = 4\n"])


class Gateway:
    def __init__(self, stack: Stack, upstream: Any, peek: sync_redis.Redis, redis_url: str) -> None:
        self.stack = stack
        self.upstream = upstream
        self.peek = peek
        self.redis_url = redis_url


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("backend-faults")
    server = PrivateRedis(tmp / "redis")
    server.start()
    (tmp / "models.toml").write_text(catalog())
    with upstream(8) as up:
        env = gateway_env(
            tmp,
            server.url,
            SECUREAI_MODELS=str(tmp / "models.toml"),
            OPENAI_BASE_URL=f"http://127.0.0.1:{up.port}/v1",  # type: ignore[attr-defined]
            OPENAI_API_KEY="fault-tests",  # the loopback upstream checks no key
            BACKEND_PROBE_S="3600",  # the worker keeps believing the upstream is up: its jobs meet the fault
        )
        peek = sync_redis.Redis.from_url(server.url, decode_responses=True)
        try:
            with running_stack(env, {"remote": None}, tmp / "logs") as stack:
                yield Gateway(stack, up, peek, server.url)
        finally:
            peek.close()
            server.stop()
    # Each fault was handled as a known failure: nothing reached the worker's catch-all.
    assert_no_tracebacks(tmp / "logs")


def generate(
    gateway: Gateway, user: str, model: str
) -> tuple[httpx.Response, dict[str, Any], dict[str, Any]]:
    """One /generate as `user`; returns the answer, the job as its owner reads it, and the user's totals."""
    create_user(gateway.redis_url, user)
    with httpx.Client(base_url=gateway.stack.url, timeout=30) as http:
        headers = login(http, user)
        llm = mint(http, headers, model, max_tokens=16)
        answer = http.post(
            "/api/v1/llm/generate", json={"prompt": "tell me", "model": model, "max_tokens": 16}, headers=llm
        )
        job_id = answer.json().get("job_id") or answer.json()["error"]["job_id"]
        job = http.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
        totals = http.get("/api/v1/usage", headers=headers).json()["totals"]
    return answer, job, totals


def ends(gateway: Gateway, job_id: str) -> list[str]:
    history = [orjson.loads(fields["e"])["type"] for _, fields in gateway.peek.xrange(keys.events(job_id))]
    return [kind for kind in history if kind in ("done", "error")]


def test_a_healthy_upstream_is_charged_the_tokens_it_used(gateway: Gateway) -> None:
    answer, job, totals = generate(gateway, "healthy", "remote-ok")
    assert answer.status_code == 200, answer.text
    assert job["status"] == "succeeded" and job["usage"]["completion_tokens"] == 8
    assert totals["tokens"] == job["usage"]["prompt_tokens"] + job["usage"]["completion_tokens"] > 0
    assert totals["gpu_seconds"] == pytest.approx(job["usage"]["gpu_seconds"], abs=1e-5)


@pytest.mark.parametrize("model", list(FAULTS))
def test_an_upstream_fault_fails_the_job_once_refunds_its_tokens_and_says_why(
    gateway: Gateway, model: str
) -> None:
    _, status, code, words = FAULTS[model]
    answer, job, totals = generate(gateway, f"user-{model}", model)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code and words in error["message"], error
    assert job["status"] == "failed" and job["error"] == {"code": code, "message": error["message"]}
    assert ends(gateway, job["job_id"]) == ["error"]
    # Billed for what ran: the request, no tokens, the seconds the job held its slot.
    assert totals["requests"] == 1 and totals["tokens"] == 0, totals
    assert job["usage"]["gpu_seconds"] > 0
    assert totals["gpu_seconds"] == pytest.approx(job["usage"]["gpu_seconds"], abs=1e-5)
    if code == "timeout":
        assert job["usage"]["gpu_seconds"] >= STALL_TIMEOUT_S * 0.9


def test_an_upstream_that_refuses_connections_fails_the_job_as_unavailable(gateway: Gateway) -> None:
    # Last in this module: the upstream goes away for good.
    gateway.upstream.terminate()
    gateway.upstream.wait(timeout=10)
    answer, job, totals = generate(gateway, "refused", "remote-ok")
    assert answer.status_code == 503, answer.text
    error = answer.json()["error"]
    assert error["code"] == "backend_unavailable" and "not answering" in error["message"], error
    assert job["status"] == "failed" and ends(gateway, job["job_id"]) == ["error"]
    assert totals["requests"] == 1 and totals["tokens"] == 0
    assert totals["gpu_seconds"] == pytest.approx(job["usage"]["gpu_seconds"], abs=1e-5)
