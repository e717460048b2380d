"""GPU-second metering: how much of a GPU a job actually used while it held a slot.

A `Meter` reads a `GpuSource` (NVML in production, a scripted one in tests) while the job runs:

* Where the driver keeps a record of utilization (NVML's sample buffer: one figure per sample period,
  200 ms on an H200, each the share of that period in which a kernel ran), the job is charged that
  record over its own span: `gpu_seconds = sum(overlap * busy share)`, and only the last, still open
  period is estimated from the current reading. Polling the current reading instead aliases with
  periodic loads: a load busy 100 ms of every 200 ms was charged 35% to 148% of its busy time over four
  runs on an H200, against 95-96% from the record (`secureai bench gpu`).
* Otherwise the meter polls the current utilization every `interval_s` and integrates it.

Jobs that hold slots on one GPU at the same time share it: each moment of the device is split equally
among the jobs in flight then (`Occupancy`), so what they are charged adds up to what the device did,
not to that once per job. Energy is the device counter's delta where the GPU has one, split the same
way. Without NVML (or without a GPU) the worker charges wall-clock seconds, the time the job held its
slot, and says so (`gpu_seconds_measured: false`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

logger = logging.getLogger(__name__)

# How far before a job's start the record is read: the period the start falls in began before it.
RECORD_LOOKBACK_S = 2.0
# How often the record is read while a job runs; the driver's buffer holds far more than this.
RECORD_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class Sample:
    utilization: float | None  # 0..1, None when the device cannot say
    energy_mj: int | None  # cumulative millijoules, None when unsupported


@dataclass(frozen=True, slots=True)
class Period:
    """One entry of the driver's utilization record: the period that ended at `end` (wall-clock seconds,
    `time.time()`'s clock) and the share of it in which the GPU was busy (0..1)."""

    end: float
    busy: float


class GpuSource(Protocol):
    """One GPU: its current utilization and energy counter, and the driver's utilization record."""

    def sample(self) -> Sample: ...

    def record(self, since: float) -> list[Period] | None:
        """The periods that ended after `since` (wall-clock seconds), oldest first; None when this device
        keeps no record (the meter then polls `sample`)."""
        ...


@dataclass(frozen=True, slots=True)
class Measurement:
    gpu_seconds: float
    measured: bool
    energy_joules: float | None = None
    wall_seconds: float = 0.0


def busy_seconds(
    record: Sequence[Period],
    start: float,
    stop: float,
    tail: float,
    seconds: Callable[[float, float], float] | None = None,
) -> float:
    """GPU-seconds in [start, stop] from the driver's record (oldest first): each period counts for the
    part of it inside the span, at its busy share. The first period's start is unknown, so it counts from
    `start` only; the span after the last recorded period, not yet closed by the driver, counts at `tail`.
    `seconds(a, b)` is how much of [a, b] is the job's own (`Occupancy.seconds`; all of it by default)."""
    own = seconds or _whole
    total = 0.0
    covered = start
    previous: float | None = None
    for period in record:
        began = max(start if previous is None else previous, start)
        ended = min(period.end, stop)
        if ended > began:
            total += own(began, ended) * period.busy
        covered = max(covered, ended)
        previous = period.end
    if stop > covered:
        total += own(covered, stop) * tail
    return total


def _whole(start: float, stop: float) -> float:
    return stop - start


class Occupancy:
    """The jobs that held slots on one GPU, and when (wall-clock seconds): a moment of the device that `n`
    jobs shared is `1/n` of a second for each of them. One per device, shared by its jobs' meters."""

    def __init__(self) -> None:
        self._spans: dict[object, tuple[float, float]] = {}  # job -> (start, stop); inf while it runs

    def __len__(self) -> int:
        return len(self._spans)

    def enter(self, job: object, at: float) -> None:
        self._spans[job] = (at, math.inf)

    def leave(self, job: object, at: float) -> None:
        """`job` has ended at `at`. Its span is kept while a job that overlapped it runs on (that one's
        share of the past depends on it), and forgotten with the last of them."""
        if job not in self._spans:
            return
        self._spans[job] = (self._spans[job][0], at)
        oldest = min((begun for begun, ended in self._spans.values() if ended == math.inf), default=math.inf)
        for other, (_, ended) in list(self._spans.items()):
            if ended <= oldest:
                del self._spans[other]

    def seconds(self, start: float, stop: float) -> float:
        """The integral over [start, stop] of 1/n, n the number of jobs in flight (at least the caller)."""
        spans = [(begun, ended) for begun, ended in self._spans.values() if begun < stop and ended > start]
        edges = sorted({start, stop, *(t for span in spans for t in span if start < t < stop)})
        total = 0.0
        for left, right in itertools.pairwise(edges):
            middle = (left + right) / 2
            sharing = sum(1 for begun, ended in spans if begun <= middle < ended)
            total += (right - left) / max(1, sharing)
        return total


class Meter:
    """Meters one job: `start()` when it takes its slot, `await stop()` when it leaves."""

    def __init__(
        self,
        source: GpuSource | None,
        *,
        interval_s: float = 0.05,
        record_interval_s: float = RECORD_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        occupancy: Occupancy | None = None,
    ) -> None:
        """`interval_s`: how often the current utilization is polled where the device keeps no record;
        `clock` times the job, `wall_clock` is the clock of the driver's record. `occupancy`: the jobs
        that share the device (a job metered alone without it is charged all of the device)."""
        self.source = source
        self.occupancy = occupancy
        self.interval_s = interval_s
        self.record_interval_s = record_interval_s
        self.clock = clock
        self.wall_clock = wall_clock
        self._task: asyncio.Task[None] | None = None
        self._started = 0.0
        self._wall_started = 0.0
        self._record: list[Period] | None = None  # None: this device keeps none, the meter polls
        self._last_t = 0.0
        self._last_wall = 0.0
        self._last_util: float | None = None
        self._busy = 0.0
        self._first_energy: int | None = None
        self._last_energy: int | None = None
        self._failed = False

    def start(self) -> Meter:
        self._started = self._last_t = self.clock()
        if self.source is not None:
            self._wall_started = self._last_wall = self.wall_clock()
            if self.occupancy is not None:
                self.occupancy.enter(self, self._wall_started)
            try:
                self._record = self.source.record(self._wall_started - RECORD_LOOKBACK_S)
            except Exception:
                logger.warning("the GPU's utilization record is unreadable; polling instead", exc_info=True)
            self._take()
            self._task = asyncio.create_task(self._run())
        return self

    def _take(self) -> bool:
        """Read the current utilization and energy (integrated here when there is no record); False once
        reading has failed (the job is then charged wall-clock)."""
        assert self.source is not None
        try:
            sample = self.source.sample()
        except Exception:  # a GPU that stops answering must not fail the job it meters
            logger.warning("GPU sampling failed; falling back to wall-clock", exc_info=True)
            self._failed = True
            return False
        now, wall = self.clock(), self.wall_clock()
        if self._last_util is not None and self._record is None:
            # Trapezoid: the utilization between two samples is their mean; this job's part of the time
            # between them is what the jobs beside it left.
            util = sample.utilization if sample.utilization is not None else self._last_util
            own = self._own(self._last_wall, wall)
            self._busy += (now - self._last_t) * own * (self._last_util + util) / 2.0
        self._last_t, self._last_wall = now, wall
        if sample.utilization is not None:
            self._last_util = sample.utilization
        elif self._last_util is None and self._record is None:
            self._failed = True
        if sample.energy_mj is not None:
            if self._first_energy is None:
                self._first_energy = sample.energy_mj
            self._last_energy = sample.energy_mj
        return not self._failed

    def _extend(self) -> bool:
        """Append the periods the driver closed since the last read; False once reading has failed."""
        assert self.source is not None and self._record is not None
        since = self._record[-1].end if self._record else self._wall_started - RECORD_LOOKBACK_S
        try:
            periods = self.source.record(since)
        except Exception:
            logger.warning("GPU record reading failed; falling back to wall-clock", exc_info=True)
            self._failed = True
            return False
        self._record.extend(p for p in periods or () if p.end > since)
        return True

    async def _run(self) -> None:
        while True:
            if self._record is not None:
                await asyncio.sleep(self.record_interval_s)
                if not self._extend():
                    return
            else:
                await asyncio.sleep(self.interval_s)
                if not self._take():
                    return

    async def stop(self) -> Measurement:
        """Stop metering and return what the job used."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        wall = self.clock() - self._started
        wall_stopped = self.wall_clock()
        try:
            return self._measure(wall, wall_stopped)
        finally:
            if self.occupancy is not None and self.source is not None:
                self.occupancy.leave(self, wall_stopped)

    def _measure(self, wall: float, wall_stopped: float) -> Measurement:
        # The last reads: the periods closed since the loop's, and the current reading (energy, the tail).
        if (
            self.source is None
            or self._failed
            or (self._record is not None and not self._extend())
            or not self._take()
        ):
            return Measurement(gpu_seconds=wall, measured=False, wall_seconds=wall)
        busy = self._busy
        own = self.occupancy.seconds if self.occupancy is not None else None
        if self._record is not None:
            # The period still open at the stop is charged at the current reading (or the last closed one).
            tail = self._last_util
            if tail is None:
                tail = self._record[-1].busy if self._record else 0.0
            busy = busy_seconds(self._record, self._wall_started, wall_stopped, tail, own)
        energy = None
        if self._first_energy is not None and self._last_energy is not None:
            # The device's energy over the span, split as its time was (at an even draw).
            energy = (self._last_energy - self._first_energy) / 1000.0
            energy *= self._own(self._wall_started, wall_stopped)
        return Measurement(gpu_seconds=busy, measured=True, energy_joules=energy, wall_seconds=wall)

    def _own(self, start: float, stop: float) -> float:
        """The share of [start, stop] (wall clock) that was this job's: 1 alone, 1/n while n jobs shared."""
        if self.occupancy is None or stop <= start:
            return 1.0
        return self.occupancy.seconds(start, stop) / (stop - start)


class NvmlSource:
    """Utilization record, current utilization and energy of one NVIDIA device, read through NVML
    (nvidia-ml-py)."""

    def __init__(self, index: int) -> None:
        import pynvml

        self._nvml = pynvml
        pynvml.nvmlInit()
        self.handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        self.name = str(pynvml.nvmlDeviceGetName(self.handle))
        self._energy_supported = True
        self._record_supported = True

    def sample(self) -> Sample:
        utilization = self._nvml.nvmlDeviceGetUtilizationRates(self.handle).gpu / 100.0
        energy = None
        if self._energy_supported:
            try:
                energy = int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))
            except self._nvml.NVMLError:
                self._energy_supported = False
        return Sample(utilization=utilization, energy_mj=energy)

    def record(self, since: float) -> list[Period] | None:
        """NVML's GPU-utilization samples newer than `since`: each the busy percentage of the sample period
        that ended at its time stamp (microseconds on the wall clock)."""
        if not self._record_supported:
            return None
        nvml = self._nvml
        try:
            _, samples = nvml.nvmlDeviceGetSamples(
                self.handle, nvml.NVML_GPU_UTILIZATION_SAMPLES, max(0, round(since * 1_000_000))
            )
        except nvml.NVMLError as exc:
            if exc.value == nvml.NVML_ERROR_NOT_FOUND:  # nothing newer than `since` yet
                return []
            if exc.value == nvml.NVML_ERROR_NOT_SUPPORTED:
                self._record_supported = False
                return None
            raise
        periods = [Period(s.timeStamp / 1_000_000, min(1.0, s.sampleValue.uiVal / 100.0)) for s in samples]
        return sorted(periods, key=lambda p: p.end)


def open_gpu_source(device: int | None) -> GpuSource | None:
    """NVML for `device`, or None (wall-clock metering) when there is no such GPU or no driver."""
    if device is None:
        return None
    try:
        return NvmlSource(device)
    except Exception as exc:  # no driver, no device, no library: all mean "not measurable here"
        logger.info("NVML unavailable; GPU-seconds will be wall-clock", extra={"reason": type(exc).__name__})
        return None
