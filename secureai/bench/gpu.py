"""`secureai bench gpu`: GPU-second metering against a load of known shape, on a machine with an NVIDIA GPU.

Runs bf16 matrix products with torch for known stretches of time, meters each stretch with the same code
the workers use (`worker.metering.Meter` over NVML), and prints measured GPU-seconds and energy next to
the known busy time: idle, fully busy, and busy half of every 200 ms.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from secureai.bench.harness import machine
from worker.metering import Meter, NvmlSource


def _load(torch: Any, seconds: float, duty: float) -> float:
    """Keep the GPU busy for `duty` of every 200 ms during `seconds`; returns the busy seconds."""
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    torch.cuda.synchronize()
    busy = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        cycle_end = time.perf_counter() + 0.2
        work_end = time.perf_counter() + 0.2 * duty
        started = time.perf_counter()
        while time.perf_counter() < work_end:
            a @ b
            torch.cuda.synchronize()
        busy += time.perf_counter() - started
        time.sleep(max(0.0, cycle_end - time.perf_counter()))
    return busy


def _idle(seconds: float) -> float:
    time.sleep(seconds)
    return 0.0


async def _measure(source: NvmlSource, work: Any) -> tuple[float, Any]:
    meter = Meter(source, interval_s=0.05).start()
    busy = await asyncio.to_thread(work)  # the load runs off the loop, so the meter keeps sampling
    return busy, await meter.stop()


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
    print("  load                known busy s   measured GPU-s   wall s   energy J")
    for label, duty in (("idle", 0.0), ("busy 100%", 1.0), ("busy 50%", 0.5)):
        work = (lambda: _idle(seconds)) if duty == 0 else (lambda d=duty: _load(torch, seconds, d))
        busy, measured = asyncio.run(_measure(source, work))
        energy = f"{measured.energy_joules:8.1f}" if measured.energy_joules is not None else "     n/a"
        figures = f"{busy:12.2f}   {measured.gpu_seconds:14.2f}   {measured.wall_seconds:6.2f}"
        print(f"  {label:18s}  {figures}   {energy}")
    return 0
