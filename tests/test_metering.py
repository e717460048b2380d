import asyncio

from worker.metering import Meter, Sample


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
