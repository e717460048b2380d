"""`secureai bench overhead`: what the gateway adds to a chat completion, measured against its upstream.

Starts a deterministic OpenAI-compatible upstream on loopback (`secureai.bench.upstream`) and a gateway
whose one model is served by the `openai` backend pointed at it. Then, for whole and streamed chat
completions at each concurrency, clients send requests back to back for a fixed time, first directly
to the upstream, then through the gateway (gate, per-user queue, scheduler, worker, upstream, events
back). Prints requests per second, p50/p99 latency (to the last byte; time to the first token too when
streaming), the gateway's added latency, and the CPU each process spent per request.

The load generator is a minimal HTTP/1.1 client on one keep-alive connection per client, so that the
benchmark steals as little CPU as possible from what it measures; every answer is checked.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import redis

from secureai.bench.harness import free_port, gateway, machine, percentile
from secureai.bench.upstream import MODEL, answer_words

CATALOG = """
[models."bench"]
backend = "openai"
upstream = "bench"
pool = "bench"
max_tokens = 1024
timeout_s = 30

[pools.bench]
concurrency = {slots}
"""
# A streamed text chunk, in the gateway's and the upstream's rendering alike (the role chunk differs).
TOKEN_MARK = b'"delta":{"content":"'
DONE = b"data: [DONE]\n\n"
PROMPT = "How much does the gateway add to a completion?"
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Target:
    """Where requests go: the upstream itself, or the gateway with a token per client."""

    name: str
    port: int
    model: str
    tokens: list[str] = field(default_factory=list)

    def request(self, client: int, *, stream: bool, max_tokens: int) -> bytes:
        body: dict[str, object] = {
            "model": self.model,
            "messages": [{"role": "user", "content": PROMPT}],
            "max_tokens": max_tokens,
        }
        if stream:
            body |= {"stream": True, "stream_options": {"include_usage": True}}
        payload = orjson.dumps(body)
        auth = f"Authorization: Bearer {self.tokens[client]}\r\n" if self.tokens else ""
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n{auth}"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        return head.encode() + payload


class Connection:
    """One keep-alive HTTP/1.1 connection that sends prepared requests and reads whole answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> tuple[int, bytes, float | None]:
        """Send `request`; return the status, the body, and when (s) the first text chunk arrived."""
        started = time.perf_counter()
        self.writer.write(request)
        reader = self.reader
        status = int((await reader.readline())[9:12])
        length, chunked = None, False
        while (line := await reader.readline()) != b"\r\n":
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
        first: float | None = None
        if length is not None:
            return status, await reader.readexactly(length), None
        if not chunked:
            raise ValueError("an answer with neither a length nor chunks")
        parts: list[bytes] = []
        while size := int((await reader.readline()).split(b";")[0], 16):
            data = await reader.readexactly(size + 2)
            if first is None and TOKEN_MARK in data:
                first = time.perf_counter() - started
            parts.append(data[:-2])
        await reader.readline()
        return status, b"".join(parts), first

    def close(self) -> None:
        self.writer.close()


@dataclass
class Cell:
    """One measured run: a target, a mode, a number of clients."""

    target: str
    stream: bool
    clients: int
    latencies: list[float] = field(default_factory=list)
    firsts: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def p(self, q: float, values: list[float] | None = None) -> float:
        return percentile(sorted(self.latencies if values is None else values), q) * 1000


def check(body: bytes, *, stream: bool, tokens: int, expected: bytes) -> bool:
    if stream:
        # The gateway may coalesce tokens that arrive together into one chunk: compare the whole text.
        text = []
        for line in body.split(b"\n"):
            if line.startswith(b"data: {"):
                for choice in orjson.loads(line[6:]).get("choices") or ():
                    text.append(choice.get("delta", {}).get("content") or "")
        return body.endswith(DONE) and b'"content":"' + "".join(text).encode() + b'"' == expected
    return expected in body


async def measure(
    target: Target,
    meter: CpuMeter,
    *,
    stream: bool,
    clients: int,
    seconds: float,
    warmup: float,
    tokens: int,
) -> Cell:
    """Clients send back to back: `warmup` seconds unrecorded, then `seconds` recorded (CPU too)."""
    cell = Cell(target.name, stream, clients)
    expected = b'"content":"' + "".join(answer_words(tokens)).encode() + b'"'
    start = time.perf_counter()
    record_from, stop_at = start + warmup, start + warmup + seconds

    async def client(index: int) -> None:
        request = target.request(index, stream=stream, max_tokens=tokens)
        connection = await Connection.open(target.port)
        try:
            while (sent := time.perf_counter()) < stop_at:
                status, body, first = await connection.exchange(request)
                done = time.perf_counter()
                if sent < record_from or done > stop_at:
                    continue
                if status != 200 or not check(body, stream=stream, tokens=tokens, expected=expected):
                    cell.errors += 1
                    continue
                cell.latencies.append(done - sent)
                if first is not None:
                    cell.firsts.append(first)
        finally:
            connection.close()

    async def account() -> None:
        await asyncio.sleep(max(0.0, record_from - time.perf_counter()))
        before = meter.snapshot()
        await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
        after = meter.snapshot()
        cell.cpu = {name: after[name] - before[name] for name in after}

    await asyncio.gather(account(), *(client(index) for index in range(clients)))
    cell.elapsed = seconds
    return cell


# --- CPU accounting ----------------------------------------------------------------------------------------
def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError, IndexError, ValueError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


class CpuMeter:
    """CPU seconds spent by named process trees (looked up once: they do not change during a run)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.trees = {name: _descendants(pid) for name, pid in pids.items()}

    def snapshot(self) -> dict[str, float]:
        totals = {name: sum(_cpu_seconds(pid) for pid in tree) for name, tree in self.trees.items()}
        totals["bench client"] = time.process_time()
        return totals


def redis_pid(url: str) -> int | None:
    """The local redis-server's pid, when this machine runs it (for CPU accounting)."""
    try:
        client = redis.Redis.from_url(url)
        pid = int(client.info("server")["process_id"])  # type: ignore[index]
        client.close()
    except (redis.RedisError, KeyError, ValueError):
        return None
    with suppress(OSError):
        if Path(f"/proc/{pid}/comm").read_text().startswith("redis"):
            return pid
    return None


# --- the run ---------------------------------------------------------------------------------------------
@contextmanager
def upstream(tokens: int) -> Iterator[subprocess.Popen[bytes]]:
    port = free_port()
    command = [sys.executable, "-m", "secureai.bench.upstream", "--port", str(port), "--tokens", str(tokens)]
    process = subprocess.Popen(command)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the benchmark upstream did not start") from None
                time.sleep(0.1)
        process.port = port  # type: ignore[attr-defined]
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


def run(
    *,
    clients: list[int],
    seconds: float,
    warmup: float,
    tokens: int,
    slots: int,
    api_workers: int,
    worker_processes: int,
    redis_url: str | None,
) -> int:
    load_before = os.getloadavg()
    cells: list[tuple[Cell, Cell]] = []
    with upstream(tokens) as up:
        port: int = up.port  # type: ignore[attr-defined]
        env = {
            "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1",
            "OPENAI_API_KEY": "bench-upstream",  # the loopback upstream checks no key
            "LLM_TOKEN_TTL": "3600",
        }
        catalog = CATALOG.format(slots=slots)
        with gateway(
            catalog,
            {"bench": slots},
            redis_url=redis_url,
            extra_env=env,
            api_workers=api_workers,
            worker_processes=worker_processes,
        ) as gw:
            pids = {name: process.pid for name, process in gw.stack.processes.items()}
            pids["upstream"] = up.pid
            redis_server = redis_pid(gw.redis_url)
            if redis_server is not None:
                pids["redis"] = redis_server
            meter = CpuMeter(pids)
            with httpx.Client(base_url=gw.stack.url, timeout=30) as http:
                user_token = gw.login(http)
                llm_tokens = [
                    gw.scoped_token(http, user_token, "bench", uses=10_000, max_tokens=tokens)
                    for _ in range(max(clients))
                ]
            direct = Target("direct", port, MODEL)
            through = Target("gateway", gw.stack.port, "bench", llm_tokens)
            for stream in (False, True):
                for count in clients:
                    pair = []
                    for target in (direct, through):
                        run = measure(
                            target,
                            meter,
                            stream=stream,
                            clients=count,
                            seconds=seconds,
                            warmup=warmup,
                            tokens=tokens,
                        )
                        pair.append(_run_async(run))
                    cells.append((pair[0], pair[1]))
    report(
        cells,
        tokens=tokens,
        slots=slots,
        api_workers=api_workers,
        worker_processes=worker_processes,
        load=(load_before, os.getloadavg()),
    )
    return 0 if all(d.errors == 0 and g.errors == 0 and g.latencies for d, g in cells) else 1


def _run_async(coroutine: object) -> Cell:
    try:
        import uvloop
    except ImportError:  # pragma: no cover (uvicorn[standard] brings it)
        return asyncio.run(coroutine)  # type: ignore[arg-type]
    return uvloop.run(coroutine)  # type: ignore[arg-type]


def report(
    cells: list[tuple[Cell, Cell]],
    *,
    tokens: int,
    slots: int,
    api_workers: int,
    worker_processes: int,
    load: tuple[tuple[float, float, float], tuple[float, float, float]],
) -> None:
    print(f"overhead: chat completions of {tokens} tokens, directly against a loopback upstream and through")
    workers = f"{worker_processes} worker process(es) x {slots} slots"
    print(f"  the gateway (gate, queue, scheduler, {workers}, {api_workers} API process(es))")
    print(f"  machine: {machine()}")
    before, after = load
    print(f"  load average before: {before[0]:.2f} {before[1]:.2f} {before[2]:.2f}; after: {after[0]:.2f}")
    print()
    header = (
        f"{'mode':7} {'clients':>7} | {'direct rps':>10} {'p50 ms':>7} {'p99 ms':>7} | "
        f"{'gateway rps':>11} {'p50 ms':>7} {'p99 ms':>7} | {'added p50':>9} {'added p99':>9}"
    )
    print(header)
    print("-" * len(header))
    for direct, through in cells:
        mode = "stream" if direct.stream else "whole"
        print(
            f"{mode:7} {direct.clients:>7} | "
            f"{direct.rps:>10.0f} {direct.p(0.5):>7.2f} {direct.p(0.99):>7.2f} | "
            f"{through.rps:>11.0f} {through.p(0.5):>7.2f} {through.p(0.99):>7.2f} | "
            f"{through.p(0.5) - direct.p(0.5):>9.2f} {through.p(0.99) - direct.p(0.99):>9.2f}"
        )
    streamed = [(d, g) for d, g in cells if d.stream]
    if streamed:
        print()
        print("time to the first text chunk (streaming), p50 ms:")
        for direct, through in streamed:
            print(
                f"  {direct.clients:>3} clients: direct {direct.p(0.5, direct.firsts):6.2f}, "
                f"gateway {through.p(0.5, through.firsts):6.2f}"
            )
    print()
    print(
        "CPU per request, ms (every process shares the same cores; direct runs use upstream and client only):"
    )
    for pair in cells:
        for cell in pair:
            done = max(1, len(cell.latencies))
            mode = "stream" if cell.stream else "whole"
            busy = {name: spent for name, spent in cell.cpu.items() if spent > 0}
            parts = ", ".join(f"{name} {spent * 1000 / done:.2f}" for name, spent in busy.items())
            print(f"  {cell.target:7} {mode:6} {cell.clients:>3} clients: {parts}")
    failures = [(c.target, c.clients, c.errors) for pair in cells for c in pair if c.errors]
    for target, count, errors in failures:
        print(f"  {errors} failed or wrong answers ({target}, {count} clients)")
