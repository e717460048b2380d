"""`secureai bench dispatch`: how long a job waits between being accepted and its worker starting it.

Submits jobs through the real API (echo backend, idle pool: each client waits for its job to end before
sending the next) and reads each job's timestamps from Redis: `created_at` is stamped when the API
accepts the job, `started_at` when a worker claims it. The second figure starts the clock when the
client has received the 202 instead; it can be negative, because the worker may start the job before
the response reaches the client.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson
import redis

from secureai.bench.harness import echo_catalog, gateway, machine, percentile, rss_mib
from shared import keys

CATALOG = echo_catalog()


def wait_for_end(peek: redis.Redis, job_id: str, timeout_s: float = 30) -> None:
    """Block on the job's event stream (no polling, so the client does not steal the CPU it measures)."""
    last = "0"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        streams: list[Any] = peek.xread({keys.events(job_id): last}, block=1000) or []  # type: ignore[assignment]
        for _, entries in streams:
            for entry_id, fields in entries:
                last = entry_id
                if orjson.loads(fields["e"])["type"] in ("done", "error"):
                    return


def run(*, jobs: int, clients: int, slots: int, redis_url: str | None) -> int:
    with gateway(CATALOG, {"bench": slots}, redis_url=redis_url) as gw:
        peek = redis.Redis.from_url(gw.redis_url, decode_responses=True)
        with httpx.Client(base_url=gw.stack.url, timeout=30) as client:
            llm_token = gw.scoped_token(client, gw.login(client), "echo", uses=jobs + 100, max_tokens=8)
        answered: dict[str, float] = {}
        lock = threading.Lock()

        def submit_and_wait(i: int, session: httpx.Client) -> None:
            response = session.post(
                "/api/v1/jobs",
                json={"model": "echo", "prompt": f"ping {i}", "max_tokens": 8},
                headers={"X-LLM-Token": llm_token},
            )
            received = time.time() * 1000
            response.raise_for_status()
            job_id = response.json()["job_id"]
            with lock:
                answered[job_id] = received
            wait_for_end(peek, job_id)

        def client_loop(index: int, count: int) -> None:
            with httpx.Client(base_url=gw.stack.url, timeout=30) as session:
                for i in range(index, count, clients):
                    submit_and_wait(i, session)

        # Warm-up: connections, the Lua script cache, the worker's first wake-up.
        client_loop(0, 10 * clients)
        answered.clear()

        wall = time.perf_counter()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            list(pool.map(lambda index: client_loop(index, jobs), range(clients)))
        wall = time.perf_counter() - wall

        accepted: list[float] = []
        after_202: list[float] = []
        for job_id, received in answered.items():
            created, started = peek.hmget(keys.job(job_id), ["created_at", "started_at"])
            if created and started:
                accepted.append(float(started) - float(created))
                after_202.append(float(started) - received)
        accepted.sort()
        after_202.sort()
        rss = {name: rss_mib(process.pid) for name, process in gw.stack.processes.items()}
        peek.close()

    setup = f"echo backend, {clients} client(s), 1 worker x {slots} slots"
    print(f"dispatch: {len(accepted)} of {jobs} jobs, {setup}")
    print(f"  machine: {machine()}")
    print(
        f"  accepted by API -> worker start:  p50 {percentile(accepted, 0.5):6.2f} ms  "
        f"p99 {percentile(accepted, 0.99):6.2f} ms  max {accepted[-1]:6.2f} ms"
    )
    print(
        f"  202 received    -> worker start:  p50 {percentile(after_202, 0.5):6.2f} ms  "
        f"p99 {percentile(after_202, 0.99):6.2f} ms"
    )
    print(f"  {len(accepted) / wall:.0f} jobs/s end to end with one job in flight per client")
    print("  RSS MiB: " + ", ".join(f"{name} {value:.0f}" for name, value in rss.items()))
    return 0 if len(accepted) == jobs else 1
