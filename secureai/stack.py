"""Starting the gateway's processes (API, scheduler, one worker per pool) as children, and stopping them.

Used by `secureai up`, the benchmarks and the end-to-end tests, so all three run the real processes the
same way. Secrets reach the children through their environment, never their command line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx


@dataclass
class Stack:
    """A set of gateway processes sharing one environment."""

    env: Mapping[str, str]
    pools: dict[str, int | None]
    host: str = "127.0.0.1"
    port: int = 8000
    api_workers: int = 1
    log_dir: Path | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _spawn(self, name: str, *args: str) -> None:
        command = [sys.executable, "-m", "secureai", *args]
        stdout: int | IO[bytes] | None = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log = (self.log_dir / f"{name}.log").open("ab")
            self._logs.append(log)
            stdout = log
        self.processes[name] = subprocess.Popen(
            command, env=dict(self.env), stdout=stdout, stderr=subprocess.STDOUT if stdout else None
        )

    def start(self) -> None:
        """Start every process (without waiting for them)."""
        api = ["api", "--host", self.host, "--port", str(self.port), "--workers", str(self.api_workers)]
        self._spawn("api", *api)
        self._spawn("scheduler", "scheduler")
        for pool, concurrency in self.pools.items():
            args = ["worker", "--pool", pool]
            if concurrency:
                args += ["--concurrency", str(concurrency)]
            self._spawn(f"worker-{pool}", *args)

    def start_worker(self, pool: str, name: str, concurrency: int | None = None) -> None:
        """One more worker process for `pool`."""
        args = ["worker", "--pool", pool]
        if concurrency:
            args += ["--concurrency", str(concurrency)]
        self._spawn(name, *args)

    def dead(self) -> list[str]:
        """Names of the processes that have exited."""
        return [name for name, process in self.processes.items() if process.poll() is not None]

    def wait_ready(self, timeout: float = 60.0, pools: list[str] | None = None) -> None:
        """Block until the API answers and every pool in `pools` (default: all) has a live worker."""
        wanted = list(self.pools) if pools is None else pools
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.dead():
                raise RuntimeError(f"process exited during start-up: {', '.join(self.dead())}")
            try:
                body = httpx.get(f"{self.url}/readyz", timeout=2.0).json()
                ready = body.get("pools", {})
                if all(ready.get(pool, {}).get("workers", 0) > 0 for pool in wanted):
                    return
                last = str(body)
            except (httpx.HTTPError, ValueError) as exc:
                last = type(exc).__name__
            time.sleep(0.2)
        raise TimeoutError(f"the gateway did not become ready within {timeout:.0f} s ({last})")

    def stop(self, name: str | None = None, *, sig: int = signal.SIGTERM, grace: float = 10.0) -> None:
        """Stop one process, or all of them (SIGTERM, then SIGKILL after `grace` seconds)."""
        names = [name] if name else list(self.processes)
        for each in names:
            process = self.processes[each]
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(sig)
        deadline = time.monotonic() + grace
        for each in names:
            process = self.processes[each]
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if name is None:
            for log in self._logs:
                log.close()
            self._logs.clear()

    def kill(self, name: str) -> None:
        """SIGKILL one process, as a crash would."""
        self.processes[name].kill()
        self.processes[name].wait()


def child_env(**overrides: str) -> dict[str, str]:
    """This process's environment with `overrides`, for children."""
    env = dict(os.environ)
    env.update(overrides)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
