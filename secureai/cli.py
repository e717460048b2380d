"""`secureai`: start a process (`up`, `api`, `scheduler`, `worker`) or run a tool (`user`, `bench`, ...).

Every command has `--help`. Bad input gets one line on stderr and exit code 2; a failure at run time
(Redis unreachable, say) one line and exit code 1. Never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import NoReturn

from pydantic import ValidationError

from shared.catalog import CatalogError


class UsageError(Exception):
    """Bad input: exit code 2."""


class CommandFailed(Exception):
    """A failure at run time: exit code 1."""


class Parser(argparse.ArgumentParser):
    """argparse, with errors on one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> Parser:
    parser = Parser(prog="secureai", description="SecureAI: a hardened, queue-based LLM gateway.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True

    up = commands.add_parser("up", help="run everything locally (Redis if needed, API, scheduler, workers)")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000)
    up.set_defaults(handler=_up)

    api = commands.add_parser("api", help="the HTTP API (uvicorn)")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    api.set_defaults(handler=_api)

    scheduler = commands.add_parser("scheduler", help="the fair dispatcher")
    scheduler.set_defaults(handler=_scheduler)

    worker = commands.add_parser("worker", help="an arq worker for one pool")
    worker.add_argument("--pool", required=True, help="gpu0, gpu1, ..., or cpu")
    worker.add_argument(
        "--concurrency", type=int, default=None, help="jobs at once (default: catalog/setting)"
    )
    worker.set_defaults(handler=_worker)

    from secureai import users_cli

    users_cli.add_commands(commands)

    from secureai import audit_cli

    audit_cli.add_commands(commands)

    from secureai import firewall_cli

    firewall_cli.add_commands(commands)

    from secureai.bench import add_commands as add_bench_commands

    add_bench_commands(commands)
    return parser


def _up(args: argparse.Namespace) -> int:
    from secureai.up import run_up

    return run_up(host=args.host, port=args.port)


def _api(args: argparse.Namespace) -> int:
    import uvicorn

    from api.http_protocol import BoundedHttpToolsProtocol
    from shared.config import get_settings

    settings = get_settings()
    settings.require_secret_key()
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Several worker processes: each keeps its metrics in files that /metrics adds up.
        directory = tempfile.mkdtemp(prefix="secureai-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    uvicorn.run(
        "api.main:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
        # Connections beyond this get a 503 from uvicorn itself: a bound on memory under a connection flood.
        limit_concurrency=4096,
        # Bounds on request heads and on how long a request may take to arrive (slowloris).
        http=BoundedHttpToolsProtocol,
    )
    return 0


def _scheduler(args: argparse.Namespace) -> int:
    from scheduler.main import run
    from shared import logs
    from shared.catalog import load_catalog
    from shared.config import get_settings

    settings = get_settings()
    logs.configure("scheduler", settings.log_level)
    run(settings, load_catalog(settings.secureai_models))
    return 0


def _worker(args: argparse.Namespace) -> int:
    from shared import logs
    from shared.catalog import load_catalog
    from shared.config import get_settings
    from worker.main import run

    settings = get_settings()
    logs.configure(f"worker-{args.pool}", settings.log_level)
    catalog = load_catalog(settings.secureai_models)
    if args.pool not in catalog.pool_names():
        raise UsageError(
            f"no model in the catalog uses pool {args.pool!r} (pools: {', '.join(catalog.pool_names())})"
        )
    if args.concurrency is not None and args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    run(settings, catalog, args.pool, concurrency=args.concurrency)
    return 0


def _one_line(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]).upper()
    return f"invalid setting {where}: {error['msg']}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except UsageError as exc:
        print(f"secureai: error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"secureai: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except CatalogError as exc:
        print(f"secureai: error: {exc}", file=sys.stderr)
        return 2
    except (CommandFailed, RuntimeError, OSError) as exc:
        print(f"secureai: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        from redis.exceptions import RedisError

        what = "Redis" if isinstance(exc, RedisError) else f"unexpected {type(exc).__name__}"
        print(f"secureai: error: {what}: {exc}", file=sys.stderr)
        return 1
