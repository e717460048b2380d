"""`secureai bench login`: a login flood against the default Argon2 settings, and what it does to others.

Runs `attackers` clients that log in back to back for `duration` seconds, while one well-behaved client
that already holds a scoped token keeps submitting jobs. Prints login throughput and latency, the
refusals of the bounded hashing queue, the API's peak memory, and the submit latency during the flood.
Then compares, without load, how long an unknown user and a wrong password take to be refused.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx
import orjson

from secureai.bench.harness import Gateway, echo_catalog, gateway, machine, percentile, rss_mib
from secureai.bench.loadgen import RawConnection
from shared.config import Settings

CATALOG = echo_catalog()


def peak_rss_mib(pid: int) -> float:
    """The process's high-water mark of resident memory (VmHWM), MiB."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def _flood(gw: Gateway, attackers: int, duration: float) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {
        "ok": [],
        "refused": [],
        "other": [],
        "submit": [],
        "submit_errors": [],
    }
    host, port = gw.stack.host, gw.stack.port
    setup = RawConnection(host, port)
    credentials = {"username": gw.username, "password": gw.password}
    _, body = await setup.request("POST", "/auth/login", credentials)
    user_token = orjson.loads(body)["access_token"]
    _, body = await setup.request(
        "POST",
        "/auth/scoped-token",
        {"model": "echo", "max_tokens": 8, "uses": 10_000},
        {"Authorization": f"Bearer {user_token}"},
    )
    llm_token = orjson.loads(body)["llm_token"]
    await setup.close()
    deadline = time.monotonic() + duration

    async def attacker() -> None:
        connection = RawConnection(host, port)
        while time.monotonic() < deadline:
            started = time.perf_counter()
            status, _ = await connection.request("POST", "/auth/login", credentials)
            elapsed = (time.perf_counter() - started) * 1000
            results[{200: "ok", 503: "refused", 429: "refused"}.get(status, "other")].append(elapsed)
        await connection.close()

    async def submitter() -> None:
        connection = RawConnection(host, port)
        body = {"model": "echo", "prompt": "still served", "max_tokens": 4}
        while time.monotonic() < deadline:
            started = time.perf_counter()
            status, _ = await connection.request("POST", "/api/v1/jobs", body, {"X-LLM-Token": llm_token})
            elapsed = (time.perf_counter() - started) * 1000
            results["submit" if status == 202 else "submit_errors"].append(elapsed)
            await asyncio.sleep(0.05)
        await connection.close()

    await asyncio.gather(submitter(), *(attacker() for _ in range(attackers)))
    return results


async def _timing(gw: Gateway, tries: int) -> tuple[list[float], list[float]]:
    unknown: list[float] = []
    wrong: list[float] = []
    async with httpx.AsyncClient(base_url=gw.stack.url, timeout=60) as http:
        for i in range(tries):
            for bucket, name in ((unknown, f"nobody{i}"), (wrong, gw.username)):
                started = time.perf_counter()
                response = await http.post(
                    "/auth/login", json={"username": name, "password": "not the password"}
                )
                bucket.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 401, response.text
    return unknown, wrong


def run(*, attackers: int, duration: float, tries: int, redis_url: str | None) -> int:
    settings = Settings()
    params = {
        "time_cost": settings.argon2_time_cost,
        "memory_cost": settings.argon2_memory_cost,
        "parallelism": settings.argon2_parallelism,
    }
    with gateway(CATALOG, {"bench": 8}, redis_url=redis_url, hash_params=params) as gw:
        api_pid = gw.stack.processes["api"].pid
        rss_before = rss_mib(api_pid)
        unknown, wrong = asyncio.run(_timing(gw, tries))
        flood_started = time.perf_counter()
        results = asyncio.run(_flood(gw, attackers, duration))
        elapsed = time.perf_counter() - flood_started
        peak = peak_rss_mib(api_pid)

    def line(values: list[float]) -> str:
        values = sorted(values)
        return f"p50 {percentile(values, 0.5):7.1f} ms  p99 {percentile(values, 0.99):7.1f} ms"

    print(
        f"login: {attackers} concurrent clients for {duration:.0f} s; Argon2id t={params['time_cost']} "
        f"m={params['memory_cost']} KiB p={params['parallelism']}, at most {settings.argon2_max_concurrent} "
        f"hashes at once + {settings.argon2_max_waiting} waiting"
    )
    print(f"  machine: {machine()} (the flooding client runs on the same two cores)")
    accepted = len(results["ok"])
    print(f"  logins accepted: {accepted:6d} ({accepted / elapsed:6.1f}/s)  {line(results['ok'])}")
    print(
        f"  refused busy:    {len(results['refused']):6d} ({len(results['refused']) / elapsed:6.1f}/s)  "
        f"{line(results['refused'])}"
    )
    if results["other"]:
        print(f"  other answers:   {len(results['other'])}")
    print(f"  API resident memory: {rss_before:.0f} MiB before, peak {peak:.0f} MiB")
    print(
        f"  job submits by a token holder during the flood: {len(results['submit'])} accepted, "
        f"{len(results['submit_errors'])} refused; {line(results['submit'])}"
    )
    unknown_median, wrong_median = statistics.median(unknown), statistics.median(wrong)
    print(
        f"  refusal timing, {tries} tries each, no load: unknown user median {unknown_median:.1f} ms, "
        f"wrong password median {wrong_median:.1f} ms "
        f"({(unknown_median - wrong_median) / wrong_median * 100:+.1f}%)"
    )
    return 0
