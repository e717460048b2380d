"""GPU-second metering: how much of a GPU a job actually used while it held a slot.

A `Meter` samples a `GpuSource` (NVML in production, a scripted one in tests) while the job runs and
integrates utilization over time: `gpu_seconds = sum(dt * utilization)`, plus the energy counter's delta
where the GPU has one. Without NVML (or without a GPU) the worker charges wall-clock seconds and says so
(`gpu_seconds_measured: false`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Sample:
    utilization: float | None  # 0..1, None when the device cannot say
    energy_mj: int | None  # cumulative millijoules, None when unsupported


class GpuSource(Protocol):
    """Reads one GPU's current utilization and energy counter."""

    def sample(self) -> Sample: ...


@dataclass(frozen=True, slots=True)
class Measurement:
    gpu_seconds: float
    measured: bool
    energy_joules: float | None = None
    wall_seconds: float = 0.0


class Meter:
    """Meters one job: `start()` when it takes its slot, `await stop()` when it leaves."""

    def __init__(
        self,
        source: GpuSource | None,
        *,
        interval_s: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.interval_s = interval_s
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self._started = 0.0
        self._last_t = 0.0
        self._last_util: float | None = None
        self._busy = 0.0
        self._first_energy: int | None = None
        self._last_energy: int | None = None
        self._failed = False

    def start(self) -> Meter:
        self._started = self._last_t = self.clock()
        if self.source is not None:
            self._take()
            self._task = asyncio.create_task(self._run())
        return self

    def _take(self) -> bool:
        """Take one sample; False once sampling has failed (the job is then charged wall-clock)."""
        assert self.source is not None
        try:
            sample = self.source.sample()
        except Exception:  # a GPU that stops answering must not fail the job it meters
            logger.warning("GPU sampling failed; falling back to wall-clock", exc_info=True)
            self._failed = True
            return False
        now = self.clock()
        if self._last_util is not None:
            # Trapezoid: the utilization between two samples is their mean.
            util = sample.utilization if sample.utilization is not None else self._last_util
            self._busy += (now - self._last_t) * (self._last_util + util) / 2.0
        self._last_t = now
        if sample.utilization is not None:
            self._last_util = sample.utilization
        elif self._last_util is None:
            self._failed = True
        if sample.energy_mj is not None:
            if self._first_energy is None:
                self._first_energy = sample.energy_mj
            self._last_energy = sample.energy_mj
        return not self._failed

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            if not self._take():
                return

    async def stop(self) -> Measurement:
        """Stop sampling and return what the job used."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        wall = self.clock() - self._started
        if self.source is None or self._failed or not self._take():
            return Measurement(gpu_seconds=wall, measured=False, wall_seconds=wall)
        energy = None
        if self._first_energy is not None and self._last_energy is not None:
            energy = (self._last_energy - self._first_energy) / 1000.0
        return Measurement(gpu_seconds=self._busy, measured=True, energy_joules=energy, wall_seconds=wall)


class NvmlSource:
    """Utilization and energy of one NVIDIA device, read through NVML (nvidia-ml-py)."""

    def __init__(self, index: int) -> None:
        import pynvml

        self._nvml = pynvml
        pynvml.nvmlInit()
        self.handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        self.name = str(pynvml.nvmlDeviceGetName(self.handle))
        self._energy_supported = True

    def sample(self) -> Sample:
        utilization = self._nvml.nvmlDeviceGetUtilizationRates(self.handle).gpu / 100.0
        energy = None
        if self._energy_supported:
            try:
                energy = int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))
            except self._nvml.NVMLError:
                self._energy_supported = False
        return Sample(utilization=utilization, energy_mj=energy)


def open_gpu_source(device: int | None) -> GpuSource | None:
    """NVML for `device`, or None (wall-clock metering) when there is no such GPU or no driver."""
    if device is None:
        return None
    try:
        return NvmlSource(device)
    except Exception as exc:  # no driver, no device, no library: all mean "not measurable here"
        logger.info("NVML unavailable; GPU-seconds will be wall-clock", extra={"reason": type(exc).__name__})
        return None
