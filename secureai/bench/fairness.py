"""`secureai bench fairness`: a light user's wait while a heavy user floods the pool, fair vs FIFO.

A heavy user submits `heavy` jobs as fast as it can; once they are queued, a light user submits `light`
jobs. The echo backend takes a fixed `service_s` per job. The same run happens twice, with the fair
scheduler and with one first-in-first-out line, and the job timestamps in Redis give: the light user's
queue wait (accepted -> started), Jain's fairness index over the period both users were backlogged
(jobs started per user), and the total throughput.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import orjson
import redis

from secureai.bench.harness import Gateway, echo_catalog, gateway, machine, percentile
from secureai.bench.loadgen import RawConnection
from shared import keys


@dataclass
class Outcome:
    policy: str
    light_waits_ms: list[float]
    jain: float
    throughput: float
    jobs: int


async def _submit_all(gw: Gateway, token: str, count: int, connections: int) -> list[str]:
    job_ids: list[str] = []
    next_index = 0

    async def client() -> None:
        nonlocal next_index
        connection = RawConnection(gw.stack.host, gw.stack.port)
        body = {"model": "echo", "prompt": "fair share please", "max_tokens": 4}
        while next_index < count:
            next_index += 1
            status, data = await connection.request("POST", "/api/v1/jobs", body, {"X-LLM-Token": token})
            if status != 202:
                raise RuntimeError(f"submit refused: {status} {data[:200]!r}")
            job_ids.append(orjson.loads(data)["job_id"])
        await connection.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    return job_ids


def _token(gw: Gateway, user: str, password: str, uses: int) -> str:
    import httpx

    with httpx.Client(base_url=gw.stack.url, timeout=30) as http:
        response = http.post("/auth/login", json={"username": user, "password": password})
        response.raise_for_status()
        user_token = response.json()["access_token"]
        return gw.scoped_token(http, user_token, "echo", uses=uses, max_tokens=4)


def _run_policy(
    policy: str, *, heavy: int, light: int, service_s: float, slots: int, redis_url: str | None
) -> Outcome:
    catalog = echo_catalog(service_s=service_s, timeout_s=60)
    with gateway(catalog, {"bench": slots}, redis_url=redis_url, extra_env={"QUEUE_POLICY": policy}) as gw:
        light_password = gw.add_user("light")
        heavy_token = _token(gw, gw.username, gw.password, heavy + 10)
        light_token = _token(gw, "light", light_password, light + 10)
        started = time.time() * 1000
        heavy_ids = asyncio.run(_submit_all(gw, heavy_token, heavy, connections=8))
        light_ids = asyncio.run(_submit_all(gw, light_token, light, connections=1))
        peek = redis.Redis.from_url(gw.redis_url, decode_responses=True)
        deadline = time.monotonic() + 600
        all_ids = heavy_ids + light_ids
        pending = list(all_ids)
        while pending and time.monotonic() < deadline:
            with peek.pipeline(transaction=False) as pipe:
                for job_id in pending:
                    pipe.hget(keys.job(job_id), "status")
                statuses = pipe.execute()
            pending = [j for j, s in zip(pending, statuses, strict=True) if s in ("queued", "running")]
            time.sleep(0.2)
        times = {}
        for job_id in all_ids:
            created, begun, ended, user = peek.hmget(
                keys.job(job_id), ["created_at", "started_at", "finished_at", "user"]
            )
            times[job_id] = (float(created), float(begun), float(ended), user)
        peek.close()
    light_waits = sorted(times[j][1] - times[j][0] for j in light_ids)
    window_start = min(times[j][0] for j in light_ids)
    window_end = max(times[j][1] for j in light_ids)
    served: dict[str, int] = {}
    for _, begun, _, user in times.values():
        if window_start <= begun <= window_end:
            served[str(user)] = served.get(str(user), 0) + 1
    shares = list(served.values()) + [0] * (2 - len(served))
    jain = sum(shares) ** 2 / (len(shares) * sum(x * x for x in shares)) if any(shares) else float("nan")
    finished = max(t[2] for t in times.values())
    return Outcome(policy, light_waits, jain, len(times) / ((finished - started) / 1000), len(times))


def run(*, heavy: int, light: int, service_s: float, slots: int, redis_url: str | None) -> int:
    outcomes = [
        _run_policy(policy, heavy=heavy, light=light, service_s=service_s, slots=slots, redis_url=redis_url)
        for policy in ("fair", "fifo")
    ]
    print(
        f"fairness: heavy user {heavy} jobs, then light user {light}; "
        f"echo backend {service_s * 1000:.0f} ms per job; 1 worker x {slots} slots"
    )
    print(f"  machine: {machine()}")
    print("  policy  light wait p50   light wait p99   Jain index (both backlogged)   throughput")
    for o in outcomes:
        p50, p99 = percentile(o.light_waits_ms, 0.5), percentile(o.light_waits_ms, 0.99)
        waits = f"{p50:10.1f} ms    {p99:10.1f} ms"
        print(f"  {o.policy:6s}  {waits}   {o.jain:22.3f}         {o.throughput:7.1f} jobs/s")
    return 0
