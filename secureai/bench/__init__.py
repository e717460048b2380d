"""`secureai bench ...`: the project's benchmarks. Each prints its figures; none asserts on time."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any


def add_commands(commands: Any) -> None:
    bench = commands.add_parser("bench", help="benchmarks that print their figures")
    kinds = bench.add_subparsers(dest="bench", metavar="BENCH", parser_class=type(bench))
    kinds.required = True

    dispatch = kinds.add_parser(
        "dispatch", help="time from a submit being accepted to its worker starting it"
    )
    dispatch.add_argument("--jobs", type=int, default=500)
    dispatch.add_argument("--clients", type=int, default=1, help="concurrent submitting clients")
    dispatch.add_argument("--slots", type=int, default=8, help="worker concurrency")
    _redis_url_option(dispatch)
    dispatch.set_defaults(handler=_dispatch)

    fairness = kinds.add_parser(
        "fairness", help="a light user's wait during a heavy user's flood, fair vs FIFO"
    )
    fairness.add_argument("--heavy", type=int, default=500, help="jobs the heavy user floods")
    fairness.add_argument("--light", type=int, default=20, help="jobs the light user sends")
    fairness.add_argument("--service-ms", type=float, default=20.0, help="fixed time per job")
    fairness.add_argument("--slots", type=int, default=4, help="worker slots")
    _redis_url_option(fairness)
    fairness.set_defaults(handler=_fairness)

    gpu = kinds.add_parser(
        "gpu", help="GPU-second metering against a known load (needs an NVIDIA GPU, torch)"
    )
    gpu.add_argument("--device", type=int, default=0, help="NVML/CUDA device index")
    gpu.add_argument("--seconds", type=float, default=5.0, help="length of each load")
    gpu.set_defaults(handler=_gpu)

    limits = kinds.add_parser("limits", help="latency the quota check adds, at 1 and 64 concurrent clients")
    limits.add_argument("--calls", type=int, default=5000, help="admissions per run")
    _redis_url_option(limits)
    limits.set_defaults(handler=_limits)

    login = kinds.add_parser("login", help="a login flood: throughput, memory, and submits meanwhile")
    login.add_argument("--attackers", type=int, default=200, help="concurrent clients logging in")
    login.add_argument("--duration", type=float, default=10.0, help="seconds of flood")
    login.add_argument("--tries", type=int, default=50, help="unknown-user and wrong-password tries each")
    _redis_url_option(login)
    login.set_defaults(handler=_login)
    overhead = kinds.add_parser(
        "overhead", help="latency and throughput the gateway adds to chat completions, against its upstream"
    )
    overhead.add_argument(
        "--clients", type=_counts, default=[1, 16, 64], help="comma list of concurrent clients (1,16,64)"
    )
    overhead.add_argument("--seconds", type=_number(float, 0.1), default=5.0, help="recorded seconds per run")
    overhead.add_argument(
        "--warmup", type=_number(float, 0.0), default=1.0, help="unrecorded seconds before each run"
    )
    overhead.add_argument("--tokens", type=_number(int, 1, 1024), default=16, help="tokens per answer")
    overhead.add_argument("--slots", type=_number(int, 1, 1024), default=64, help="worker concurrency")
    overhead.add_argument("--api-workers", type=_number(int, 1, 64), default=1, help="API processes")
    overhead.add_argument(
        "--workers", type=_number(int, 1, 64), default=1, help="worker processes for the pool"
    )
    _redis_url_option(overhead)
    overhead.set_defaults(handler=_overhead)

    soak = kinds.add_parser(
        "soak", help="mixed traffic at a steady rate for a long while: lost jobs, latency, memory"
    )
    soak.add_argument("--duration", type=_number(float, 1.0), default=60.0, help="seconds of traffic")
    soak.add_argument(
        "--rps", type=_number(float, 0.1, 10_000), default=40.0, help="operations started a second"
    )
    _redis_url_option(soak)
    soak.set_defaults(handler=_soak)

    adversarial = kinds.add_parser(
        "adversarial", help="firewall and token-parser time on inputs built to be slow (32 KiB at most)"
    )
    adversarial.add_argument("--top", type=_number(int, 1), default=15, help="slowest inputs to list")
    adversarial.set_defaults(handler=_adversarial)

    firewall = kinds.add_parser(
        "firewall", help="the firewall's first tier on 4 KiB prompts joined from labelled rows"
    )
    firewall.add_argument("folders", nargs="+", type=Path, metavar="DIR", help="folders of *.jsonl rows")
    firewall.add_argument(
        "--repeat", type=_number(int, 1, 1000), default=7, help="scans per prompt for the best time"
    )
    firewall.add_argument("--top", type=_number(int, 0), default=3, help="slowest prompts to list")
    firewall.add_argument(
        "--conversations",
        type=_number(int, 0, 1000),
        default=8,
        help="chat conversations replayed through the gate's scan, with and without its verdict cache",
    )
    firewall.add_argument(
        "--turns",
        type=_number(int, 1, 200),
        default=12,
        help="messages per conversation after the system one",
    )
    firewall.set_defaults(handler=_firewall)

    memory = kinds.add_parser(
        "memory", help="resident memory of a gateway process that has scanned labelled rows with the firewall"
    )
    memory.add_argument("folders", nargs="+", type=Path, metavar="DIR", help="folders of *.jsonl rows")
    memory.add_argument(
        "--semantic", choices=("on", "off"), default="on", help="the firewall's second tier (the encoder)"
    )
    memory.add_argument(
        "--rest", type=_number(float, 0, 60), default=1.5, help="seconds at rest after the scans"
    )
    memory.add_argument(
        "--repeat", type=_number(int, 1, 20), default=3, help="processes measured, one by one"
    )
    memory.set_defaults(handler=_memory)


def _redis_url_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redis-url",
        default=None,
        help="Redis for the run (default: REDIS_URL with database 13); the database is flushed",
    )


def _number(kind: Callable[[str], float], low: float, high: float = float("inf")) -> Callable[[str], Any]:
    """An argparse type: a number of `kind` within [low, high]."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is outside {low:g}..{high:g}")
        return value

    return parse


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected a comma list of numbers, such as 1,16,64") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("client counts must be at least 1")
    return counts


def _overhead(args: argparse.Namespace) -> int:
    from secureai.bench.overhead import run

    return run(
        clients=args.clients,
        seconds=args.seconds,
        warmup=args.warmup,
        tokens=args.tokens,
        slots=args.slots,
        api_workers=args.api_workers,
        worker_processes=args.workers,
        redis_url=args.redis_url,
    )


def _dispatch(args: argparse.Namespace) -> int:
    from secureai.bench.dispatch import run

    return run(jobs=args.jobs, clients=args.clients, slots=args.slots, redis_url=args.redis_url)


def _login(args: argparse.Namespace) -> int:
    from secureai.bench.login import run

    return run(attackers=args.attackers, duration=args.duration, tries=args.tries, redis_url=args.redis_url)


def _fairness(args: argparse.Namespace) -> int:
    from secureai.bench.fairness import run

    return run(
        heavy=args.heavy,
        light=args.light,
        service_s=args.service_ms / 1000,
        slots=args.slots,
        redis_url=args.redis_url,
    )


def _gpu(args: argparse.Namespace) -> int:
    from secureai.bench.gpu import run

    return run(device=args.device, seconds=args.seconds)


def _limits(args: argparse.Namespace) -> int:
    from secureai.bench.limits import run

    return run(calls=args.calls, redis_url=args.redis_url)


def _adversarial(args: argparse.Namespace) -> int:
    from secureai.bench.adversarial import run

    return run(top=args.top)


def _firewall(args: argparse.Namespace) -> int:
    from secureai.bench.firewall import run

    return run(
        folders=args.folders,
        repeat=args.repeat,
        top=args.top,
        conversations=args.conversations,
        turns=args.turns,
    )


def _soak(args: argparse.Namespace) -> int:
    from secureai.bench.soak import run

    return run(duration=args.duration, rps=args.rps, redis_url=args.redis_url)


def _memory(args: argparse.Namespace) -> int:
    from secureai.bench.memory import run

    return run(folders=args.folders, semantic=args.semantic, rest_s=args.rest, repeat=args.repeat)
