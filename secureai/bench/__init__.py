"""`secureai bench ...`: the project's benchmarks. Each prints its figures; none asserts on time."""

from __future__ import annotations

import argparse
from collections.abc import Callable
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
    dispatch.add_argument(
        "--redis-url",
        default=None,
        help="Redis for the run (default: REDIS_URL with database 13); the database is flushed",
    )
    dispatch.set_defaults(handler=_dispatch)

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
        "--redis-url",
        default=None,
        help="Redis for the run (default: REDIS_URL with database 13); the database is flushed",
    )
    overhead.set_defaults(handler=_overhead)


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
        redis_url=args.redis_url,
    )


def _dispatch(args: argparse.Namespace) -> int:
    from secureai.bench.dispatch import run

    return run(jobs=args.jobs, clients=args.clients, slots=args.slots, redis_url=args.redis_url)
