"""`secureai bench gpu`: GPU-second metering against a load of known shape, on a machine with an NVIDIA GPU.

Runs bf16 matrix products with torch for known stretches of time, meters each stretch with the same code
the workers use (`worker.metering.Meter` over NVML's utilization record), and prints measured GPU-seconds
and energy next to the known busy time: idle, fully busy, busy half of every 200 ms, and busy about half
the time in bursts of random length. Beside it, the same stretch metered by polling NVML's current
utilization every 50 ms, the way that aliases with periodic loads.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from typing import Any

from secureai.bench.harness import machine
from worker.metering import Measurement, Meter, NvmlSource, Period, Sample


def _load(torch: Any, seconds: float, cycles: Iterator[tuple[float, float]]) -> float:
    """Alternate busy and idle stretches, `(busy_s, idle_s)` from `cycles`, for `seconds`; returns the
    busy seconds."""
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    torch.cuda.synchronize()
    busy = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        busy_s, idle_s = next(cycles)
        started = time.perf_counter()
        work_end = started + min(busy_s, end - started)
        while time.perf_counter() < work_end:
            a @ b
            torch.cuda.synchronize()
        busy += time.perf_counter() - started
        time.sleep(max(0.0, min(idle_s, end - time.perf_counter())))
    return busy


def _periodic(busy_s: float, idle_s: float) -> Iterator[tuple[float, float]]:
    while True:
        yield busy_s, idle_s


def _bursts(seed: int = 7) -> Iterator[tuple[float, float]]:
    """Busy and idle stretches of 10 to 300 ms, at random: about half busy, with no period to alias with."""
    rng = random.Random(seed)
    while True:
        yield rng.uniform(0.01, 0.3), rng.uniform(0.01, 0.3)


class _Polled:
    """The same GPU with its utilization record hidden: the meter polls the current utilization."""

    def __init__(self, source: NvmlSource) -> None:
        self.source = source

    def sample(self) -> Sample:
        return self.source.sample()

    def record(self, since: float) -> list[Period] | None:
        return None


def _idle(seconds: float) -> float:
    time.sleep(seconds)
    return 0.0


async def _measure(source: NvmlSource, work: Any) -> tuple[float, Measurement, Measurement]:
    recorded = Meter(source).start()
    polled = Meter(_Polled(source), interval_s=0.05).start()
    busy = await asyncio.to_thread(work)  # the load runs off the loop, so the meters keep reading
    return busy, await recorded.stop(), await polled.stop()


def run(*, device: int, seconds: float) -> int:
    try:
        import torch
    except ImportError:
        print("secureai bench gpu: needs torch with CUDA (pip install torch) on a machine with an NVIDIA GPU")
        return 1
    if not torch.cuda.is_available():
        print("secureai bench gpu: no CUDA device visible to torch")
        return 1
    try:
        source = NvmlSource(device)
    except Exception as exc:
        print(f"secureai bench gpu: NVML unavailable ({type(exc).__name__}: {exc})")
        return 1
    torch.cuda.set_device(device)
    print(f"gpu: {source.name} (device {device}); host {machine()}")
    print("  load                     known busy s   metered GPU-s   polled GPU-s   wall s   energy J")
    loads = (
        ("idle", None),
        ("busy 100%", lambda: _periodic(1.0, 0.0)),
        ("busy 100 of 200 ms", lambda: _periodic(0.1, 0.1)),
        ("random bursts", _bursts),
    )
    for label, cycles in loads:
        work = (lambda: _idle(seconds)) if cycles is None else (lambda c=cycles: _load(torch, seconds, c()))
        busy, measured, polled = asyncio.run(_measure(source, work))
        energy = f"{measured.energy_joules:8.1f}" if measured.energy_joules is not None else "     n/a"
        figures = (
            f"{busy:12.2f}   {measured.gpu_seconds:13.2f}   {polled.gpu_seconds:12.2f}"
            f"   {measured.wall_seconds:6.2f}"
        )
        print(f"  {label:22s}  {figures}   {energy}")
    return 0
