import asyncio
import functools
import sys
import types
from dataclasses import dataclass

import pytest

from worker.metering import RECORD_LOOKBACK_S, Meter, NvmlSource, Occupancy, Period, Sample, busy_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class ScriptedGpu:
    """Utilization and energy readings replayed in order; the clock advances one second per reading."""

    def __init__(self, clock: Clock, readings: list[tuple[float | None, int | None]]) -> None:
        self.clock = clock
        self.readings = list(readings)

    def sample(self) -> Sample:
        utilization, energy = self.readings.pop(0) if self.readings else (0.0, None)
        self.clock.now += 1.0
        return Sample(utilization=utilization, energy_mj=energy)

    def record(self, since: float) -> list[Period] | None:
        return None  # no driver record: the meter polls


async def test_gpu_seconds_integrate_utilization_and_energy() -> None:
    clock = Clock()
    gpu = ScriptedGpu(clock, [(1.0, 1_000), (1.0, 301_000), (0.5, 451_000), (0.5, 601_000)])
    meter = Meter(gpu, interval_s=3600, clock=clock).start()  # sampler loop never fires: we drive it
    meter._take()
    meter._take()
    measured = await meter.stop()
    # Trapezoids over three one-second gaps: (1+1)/2 + (1+.5)/2 + (.5+.5)/2 = 2.25 GPU-seconds.
    assert measured.measured
    assert measured.gpu_seconds == 2.25
    assert measured.energy_joules == 600.0


async def test_without_a_gpu_wall_clock_is_charged_and_flagged() -> None:
    clock = Clock()
    meter = Meter(None, clock=clock).start()
    clock.now += 2.5
    measured = await meter.stop()
    assert (measured.gpu_seconds, measured.measured) == (2.5, False)


async def test_a_failing_gpu_falls_back_to_wall_clock() -> None:
    clock = Clock()

    class Broken:
        def sample(self) -> Sample:
            raise RuntimeError("NVML lost the device")

        def record(self, since: float) -> list[Period] | None:
            return None

    meter = Meter(Broken(), clock=clock).start()
    clock.now += 1.5
    measured = await meter.stop()
    assert (measured.gpu_seconds, measured.measured) == (1.5, False)


async def test_the_sampler_loop_runs_on_its_own() -> None:
    clock = Clock()
    gpu = ScriptedGpu(clock, [(1.0, None)] * 1000)
    meter = Meter(gpu, interval_s=0.001, clock=clock).start()
    await asyncio.sleep(0.05)
    measured = await meter.stop()
    assert measured.measured and measured.gpu_seconds >= 5
    assert measured.energy_joules is None


# --- the driver's record --------------------------------------------------------------------------


def test_busy_seconds_count_each_period_for_its_part_inside_the_span() -> None:
    # Periods of 0.2 s ending at 10.0, 10.2, ...; the job ran from 10.1 to 10.7.
    record = [Period(10.0, 1.0), Period(10.2, 0.5), Period(10.4, 1.0), Period(10.6, 0.0)]
    # 10.1-10.2 at 0.5, 10.2-10.4 at 1.0, 10.4-10.6 at 0.0, then 10.6-10.7 not yet closed: at the tail.
    assert busy_seconds(record, 10.1, 10.7, tail=0.25) == pytest.approx(0.05 + 0.2 + 0.0 + 0.025)
    # Periods after the stop count only up to it; with no record at all the whole span is at the tail.
    assert busy_seconds(record, 10.1, 10.3, tail=1.0) == pytest.approx(0.05 + 0.1)
    assert busy_seconds([], 5.0, 7.0, tail=0.5) == pytest.approx(1.0)
    # A first period that ends inside the span, with none before it, counts from the start.
    assert busy_seconds([Period(10.3, 1.0)], 10.1, 10.3, tail=0.0) == pytest.approx(0.2)


@dataclass
class Recorded:
    """A GPU busy half of every 200 ms period, as the driver records it; its current reading (what a
    poller sees) is always 0.9, so a meter that polled instead of reading the record would be caught."""

    clock: Clock
    energy: int = 0
    record_calls: int = 0
    sample_calls: int = 0
    fail_record_after: int | None = None

    def sample(self) -> Sample:
        self.sample_calls += 1
        self.energy += 1_000
        return Sample(utilization=0.9, energy_mj=self.energy)

    def record(self, since: float) -> list[Period] | None:
        self.record_calls += 1
        if self.fail_record_after is not None and self.record_calls > self.fail_record_after:
            raise RuntimeError("NVML lost the device")
        ends = [round(0.2 * i, 6) for i in range(int(self.clock.now / 0.2) + 1)]
        return [Period(end, 0.5) for end in ends if since < end <= self.clock.now]


async def test_a_gpu_with_a_record_is_charged_from_it_not_from_polling() -> None:
    clock = Clock()
    gpu = Recorded(clock)
    meter = Meter(gpu, record_interval_s=3600, clock=clock, wall_clock=clock).start()
    assert gpu.record_calls == 1  # read from RECORD_LOOKBACK_S before the start
    clock.now += 3.0
    assert meter._extend()
    clock.now += 2.1  # the job ends 0.1 s into a period the driver has not closed yet
    measured = await meter.stop()
    assert measured.measured
    # 5.0 s of closed periods at 0.5, then 0.1 s at the current reading, 0.9.
    assert measured.gpu_seconds == pytest.approx(5.0 * 0.5 + 0.1 * 0.9)
    assert measured.wall_seconds == pytest.approx(5.1)
    assert gpu.sample_calls == 2  # start and stop: energy and the tail's reading, no polling
    assert measured.energy_joules == 1.0


async def test_a_record_that_fails_mid_job_charges_wall_clock() -> None:
    clock = Clock()
    gpu = Recorded(clock, fail_record_after=1)
    meter = Meter(gpu, record_interval_s=3600, clock=clock, wall_clock=clock).start()
    clock.now += 2.0
    measured = await meter.stop()
    assert (measured.gpu_seconds, measured.measured) == (pytest.approx(2.0), False)


async def test_an_unreadable_record_at_the_start_means_polling() -> None:
    clock = Clock()
    gpu = Recorded(clock, fail_record_after=0)
    meter = Meter(gpu, interval_s=3600, clock=clock, wall_clock=clock).start()
    clock.now += 2.0
    measured = await meter.stop()
    # Polled: two readings of 0.9 two seconds apart (the clock is not advanced by this source).
    assert measured.measured
    assert measured.gpu_seconds == pytest.approx(2.0 * 0.9)


async def test_the_record_is_read_on_its_own_while_the_job_runs() -> None:
    clock = Clock()
    gpu = Recorded(clock)
    meter = Meter(gpu, record_interval_s=0.001, clock=clock, wall_clock=clock).start()
    for step in range(1, 11):
        clock.now = round(100.0 + 0.2 * step, 6)
        await asyncio.sleep(0.005)
    measured = await meter.stop()
    assert gpu.record_calls > 3
    assert measured.gpu_seconds == pytest.approx(2.0 * 0.5, abs=1e-6)


class FakeNvml(types.ModuleType):
    """The part of pynvml that `NvmlSource` uses, answering as a driver would."""

    NVML_GPU_UTILIZATION_SAMPLES = 1
    NVML_ERROR_NOT_SUPPORTED = 3
    NVML_ERROR_NOT_FOUND = 6

    class NVMLError(Exception):
        def __init__(self, value: int) -> None:
            self.value = value

    def __init__(self) -> None:
        super().__init__("pynvml")
        self.samples: list[tuple[int, int]] = []  # (time stamp in microseconds, busy percent)
        self.error: int | None = None
        self.asked_since: list[int] = []

    def nvmlInit(self) -> None:
        pass

    def nvmlDeviceGetHandleByIndex(self, index: int) -> str:
        return f"gpu{index}"

    def nvmlDeviceGetName(self, handle: str) -> str:
        return "Test GPU"

    def nvmlDeviceGetUtilizationRates(self, handle: str) -> types.SimpleNamespace:
        return types.SimpleNamespace(gpu=0)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: str) -> int:
        return 5_000

    def nvmlDeviceGetSamples(self, handle: str, kind: int, since: int) -> tuple[int, list[object]]:
        assert kind == self.NVML_GPU_UTILIZATION_SAMPLES
        self.asked_since.append(since)
        if self.error is not None:
            raise self.NVMLError(self.error)
        found = [
            types.SimpleNamespace(timeStamp=ts, sampleValue=types.SimpleNamespace(uiVal=pct))
            for ts, pct in self.samples
            if ts > since
        ]
        if not found:
            raise self.NVMLError(self.NVML_ERROR_NOT_FOUND)
        return 1, found


def test_nvml_samples_become_periods_in_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    source = NvmlSource(0)
    nvml.samples = [(1_700_000_000_400_000, 50), (1_700_000_000_200_000, 100)]
    assert source.record(1_700_000_000.0) == [Period(1_700_000_000.2, 1.0), Period(1_700_000_000.4, 0.5)]
    assert nvml.asked_since == [1_700_000_000_000_000]
    assert source.record(1_700_000_000.4) == []  # nothing newer: NVML says NOT_FOUND
    nvml.error = nvml.NVML_ERROR_NOT_SUPPORTED
    assert source.record(0.0) is None  # no record on this device: the meter polls
    nvml.error = None
    assert source.record(0.0) is None  # and it is not asked again
    assert len(nvml.asked_since) == 3


async def test_a_meter_over_nvml_reads_the_record(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    clock = Clock()
    nvml.samples = [(int(t * 1_000_000), 100) for t in (99.8, 100.0, 100.2, 100.4)]
    meter = Meter(NvmlSource(0), record_interval_s=3600, clock=clock, wall_clock=clock).start()
    assert nvml.asked_since == [int((100.0 - RECORD_LOOKBACK_S) * 1_000_000)]
    clock.now = 100.4
    measured = await meter.stop()
    assert measured.measured and measured.gpu_seconds == pytest.approx(0.4)
    assert measured.energy_joules == 0.0


# --- jobs that share a device -----------------------------------------------------------------------


def test_jobs_in_flight_together_share_each_moment() -> None:
    occupancy = Occupancy()
    occupancy.enter("a", 0.0)
    assert occupancy.seconds(0.0, 4.0) == 4.0  # alone: all of it
    occupancy.enter("b", 2.0)
    occupancy.enter("c", 3.0)
    # a: 0-2 alone, 2-3 with b, 3-4 with b and c.
    assert occupancy.seconds(0.0, 4.0) == pytest.approx(2.0 + 1.0 / 2 + 1.0 / 3)
    occupancy.leave("a", 4.0)
    assert len(occupancy) == 3  # b and c started before a ended: their share of 2-4 needs a's span
    occupancy.leave("c", 5.0)
    # b: 2-3 with a, 3-4 with a and c, 4-5 with c, 5-6 alone.
    assert occupancy.seconds(2.0, 6.0) == pytest.approx(1.0 / 2 + 1.0 / 3 + 1.0 / 2 + 1.0)
    occupancy.leave("b", 6.0)
    assert len(occupancy) == 0  # nothing runs that could need them
    # What the three were given of the device's six seconds adds up to six.
    shares = [2.0 + 1.0 / 2 + 1.0 / 3, 1.0 / 2 + 1.0 / 3 + 1.0 / 2 + 1.0, 1.0 / 3 + 1.0 / 2]
    assert sum(shares) == pytest.approx(6.0)


@dataclass
class Steady:
    """A GPU busy at `utilization` that draws one watt, with no driver record (the meter polls it)."""

    clock: Clock
    utilization: float = 1.0

    def sample(self) -> Sample:
        return Sample(utilization=self.utilization, energy_mj=int(self.clock.now * 1_000))

    def record(self, since: float) -> list[Period] | None:
        return None


async def test_polled_jobs_on_one_gpu_are_charged_what_it_did_once() -> None:
    clock = Clock()
    gpu = Steady(clock)
    occupancy = Occupancy()
    meter = functools.partial(Meter, gpu, interval_s=3600, clock=clock, wall_clock=clock, occupancy=occupancy)
    first = meter().start()
    clock.now += 2.0
    second = meter().start()
    clock.now += 2.0
    one = await first.stop()
    clock.now += 2.0
    two = await second.stop()
    # Six seconds of a fully busy device, the middle two shared: 2 + 1 for each job.
    assert one.gpu_seconds == pytest.approx(3.0) and two.gpu_seconds == pytest.approx(3.0)
    assert one.energy_joules == pytest.approx(3.0) and two.energy_joules == pytest.approx(3.0)
    assert (one.wall_seconds, two.wall_seconds) == (4.0, 4.0)
    assert len(occupancy) == 0


async def test_recorded_jobs_on_one_gpu_are_charged_what_it_did_once() -> None:
    clock = Clock()
    gpu = Recorded(clock)  # busy half of every period
    occupancy = Occupancy()
    meter = functools.partial(Meter, gpu, record_interval_s=3600, clock=clock, wall_clock=clock)
    first = meter(occupancy=occupancy).start()
    clock.now = 101.0
    second = meter(occupancy=occupancy).start()
    clock.now = 103.0
    one = await first.stop()
    clock.now = 104.0
    two = await second.stop()
    # The device was busy 0.5 of 100-104: 2.0 GPU-seconds. The first job had 100-101 alone and half of
    # 101-103, the second half of 101-103 and 103-104 alone.
    assert one.gpu_seconds == pytest.approx(0.5 * (1.0 + 1.0), abs=1e-6)
    assert two.gpu_seconds == pytest.approx(0.5 * (1.0 + 1.0), abs=1e-6)
    assert one.gpu_seconds + two.gpu_seconds == pytest.approx(2.0, abs=1e-6)
    # Without the occupancy each would have been charged the device over its whole span.
    alone = meter().start()
    clock.now = 107.0
    assert (await alone.stop()).gpu_seconds == pytest.approx(1.5, abs=1e-6)


async def test_a_job_whose_gpu_fails_still_leaves_the_occupancy() -> None:
    clock = Clock()
    gpu = Recorded(clock, fail_record_after=1)
    occupancy = Occupancy()
    meter = Meter(gpu, record_interval_s=3600, clock=clock, wall_clock=clock, occupancy=occupancy).start()
    assert len(occupancy) == 1
    clock.now += 2.0
    measured = await meter.stop()
    assert not measured.measured and measured.gpu_seconds == pytest.approx(2.0)
    assert len(occupancy) == 0
