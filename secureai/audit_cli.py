"""`secureai audit verify` and `secureai audit tail`: check and read the audit trail."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shared import keys
from shared.audit import verify
from shared.config import get_settings
from shared.redis import connect

PAGE = 1000


def add_commands(commands: Any) -> None:
    audit = commands.add_parser("audit", help="verify and read the audit trail")
    actions = audit.add_subparsers(dest="action", metavar="ACTION", parser_class=type(audit))
    actions.required = True

    check = actions.add_parser("verify", help="check the hash chains; exit 0 intact, 1 tampered")
    check.add_argument(
        "--file",
        action="append",
        type=Path,
        default=None,
        help="JSON Lines of a file sink (repeatable, oldest rotated file first); default: the Redis stream",
    )
    check.set_defaults(handler=_verify)

    tail = actions.add_parser("tail", help="print the latest records")
    tail.add_argument("-n", type=int, default=20, help="how many")
    tail.add_argument("--follow", "-f", action="store_true", help="keep printing new records")
    tail.set_defaults(handler=_tail)


def _stream_entries(url: str) -> Iterator[tuple[str, bytes]]:
    async def read() -> list[tuple[str, bytes]]:
        redis = connect(url, max_connections=1)
        entries: list[tuple[str, bytes]] = []
        try:
            start = "-"
            while True:
                page = await redis.xrange(keys.AUDIT_STREAM, min=start, max="+", count=PAGE)
                for entry_id, fields in page:
                    entries.append((f"stream {entry_id}", fields["r"].encode()))
                if len(page) < PAGE:
                    return entries
                start = "(" + page[-1][0]
        finally:
            await redis.aclose()

    yield from asyncio.run(read())


def _file_entries(paths: list[Path]) -> Iterator[tuple[str, bytes]]:
    from secureai.cli import UsageError

    for path in paths:
        try:
            with path.open("rb") as handle:
                for number, line in enumerate(handle, 1):
                    if line.strip():
                        yield f"{path.name}:{number}", line.rstrip(b"\n")
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def _verify(args: argparse.Namespace) -> int:
    settings = get_settings()
    key = settings.audit_key.get_secret_value().encode() if settings.audit_key else None
    if args.file:
        verdict = verify(_file_entries(args.file), key, complete=True)
        source = f"{len(args.file)} file(s)"
    else:
        verdict = verify(_stream_entries(settings.redis_url), key)
        source = "the Redis stream"
    if key is None:
        print("secureai audit: AUDIT_KEY is not set; checkpoints were not checked", file=sys.stderr)
    if verdict.intact:
        print(
            f"audit trail intact: {verdict.records} records from {verdict.writers} writer(s) in {source}, "
            f"{verdict.checkpoints} checkpoint(s) verified"
        )
        return 0
    print(f"audit trail TAMPERED: {len(verdict.problems)} problem(s) in {source}")
    for problem in verdict.problems[:100]:
        print(f"  {problem}")
    return 1


def _tail(args: argparse.Namespace) -> int:
    from secureai.cli import UsageError

    if args.n < 0:
        raise UsageError("-n must be 0 or more")
    settings = get_settings()

    async def tail() -> None:
        redis = connect(settings.redis_url, max_connections=1)
        try:
            latest = await redis.xrevrange(keys.AUDIT_STREAM, count=args.n) if args.n else []
            for _, fields in reversed(latest):
                print(fields["r"], flush=True)
            last = latest[0][0] if latest else "$"
            while args.follow:
                for _, entries in await redis.xread({keys.AUDIT_STREAM: last}, block=5000) or []:
                    for entry_id, fields in entries:
                        last = entry_id
                        print(fields["r"], flush=True)
        finally:
            await redis.aclose()

    asyncio.run(tail())
    return 0
