"""`secureai bench ...`: the project's benchmarks. Each prints its figures; none asserts on time."""

from __future__ import annotations

import argparse
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


def _dispatch(args: argparse.Namespace) -> int:
    from secureai.bench.dispatch import run

    return run(jobs=args.jobs, clients=args.clients, slots=args.slots, redis_url=args.redis_url)
