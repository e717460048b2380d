"""The audit trail: one JSON record per access decision and per inference outcome, tamper-evident.

Every process is a *writer* with its own hash chain: each record carries the writer id, a sequence
number, the previous record's hash and its own SHA-256 (`h`) over its canonical JSON. Every
`CHECKPOINT_EVERY` records or `CHECKPOINT_S` seconds the writer appends a checkpoint: its head hash and
sequence under an HMAC with `AUDIT_KEY` (a key of its own, never a JWT key), so a chain rewritten by
someone without the key no longer matches its checkpoints. Chains per writer need no coordination
between processes or hosts, and `secureai audit verify` checks each one.

A record goes to the durable sink first (JSON Lines: stdout or a rotating file per process), then to a
Redis Stream that every replica can query. The stream is trimmed by length, which never loses anything
that is not already in a sink. Writing is part of the decision: when a record cannot be written, the
caller fails closed. Records never hold passwords, tokens, prompts or matched PII; a salted hash of the
prompt lets an investigator match a prompt they already have.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import socket
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared import keys

logger = logging.getLogger("secureai.audit")

STREAM_MAXLEN = 1_000_000
CHECKPOINT_EVERY = 100
CHECKPOINT_S = 5.0
MAX_BACKLOG = 100_000  # records kept for the stream while Redis is unreachable
GENESIS = "0" * 64


class AuditUnavailable(Exception):
    """The audit record could not be written; the decision it records must not take effect."""


def prompt_digest(salt: bytes, prompt: str) -> str:
    """A salted hash of a prompt: matches a known prompt, reveals nothing about an unknown one."""
    return hmac.new(salt, prompt.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]


def record_hash(record: dict[str, Any]) -> str:
    """SHA-256 over the record's canonical JSON (sorted keys), without its own `h`."""
    body = {name: value for name, value in record.items() if name != "h"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def checkpoint_mac(key: bytes, writer: str, seq: int, head: str) -> str:
    """The HMAC that vouches for a writer's chain up to `seq`."""
    return hmac.new(key, f"{writer}|{seq}|{head}".encode(), hashlib.sha256).hexdigest()


class Sink(Protocol):
    def write_lines(self, lines: list[bytes]) -> None: ...

    def close(self) -> None: ...


class StdoutSink:
    """JSON Lines on standard output (a container runtime or log shipper takes it from there)."""

    def write_lines(self, lines: list[bytes]) -> None:
        sys.stdout.buffer.write(b"".join(line + b"\n" for line in lines))
        sys.stdout.buffer.flush()

    def close(self) -> None:
        sys.stdout.flush()


class FileSink:
    """JSON Lines in `<directory>/audit-<writer>.jsonl`, rotated by size; one file per process.

    A write reaches the operating system at once (a crashed process loses nothing); `sync` makes it
    durable on disk, every batch or every few hundred milliseconds as `AUDIT_FSYNC_S` says.
    """

    def __init__(self, directory: Path, writer: str, *, max_bytes: int = 64 << 20, backups: int = 20) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"audit-{writer.replace(':', '_')}.jsonl"
        self.max_bytes = max_bytes
        self.backups = backups
        self._file = self.path.open("ab")
        self.dirty = False

    def write_lines(self, lines: list[bytes]) -> None:
        self._file.write(b"".join(line + b"\n" for line in lines))
        self._file.flush()
        self.dirty = True
        if self._file.tell() >= self.max_bytes:
            self._rotate()

    def sync(self) -> None:
        """fsync what was written (blocking: call it off the event loop)."""
        if self.dirty:
            self.dirty = False
            os.fsync(self._file.fileno())

    def _rotate(self) -> None:
        # audit-x.jsonl.1 is the newest full file; verify them oldest first (.N ... .1, then the current).
        os.fsync(self._file.fileno())
        self._file.close()
        for index in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                older.rename(self.path.with_name(f"{self.path.name}.{index + 1}"))
        self.path.rename(self.path.with_name(f"{self.path.name}.1"))
        self._file = self.path.open("ab")

    def close(self) -> None:
        self.sync()
        self._file.close()


class NullSink:
    """No durable copy (tests only; the stream alone holds the records)."""

    def write_lines(self, lines: list[bytes]) -> None:
        return None

    def close(self) -> None:
        return None


def open_sink(spec: str, writer: str) -> Sink:
    """`stdout`, `file:<directory>` or `none`."""
    if spec == "stdout":
        return StdoutSink()
    if spec == "none":
        return NullSink()
    if spec.startswith("file:"):
        return FileSink(Path(spec[5:]).expanduser(), writer)
    raise ValueError(f"AUDIT_SINK must be stdout, file:<directory> or none, not {spec!r}")


def new_writer_id(kind: str) -> str:
    """A writer id unique across hosts and restarts."""
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


@dataclass
class _Pending:
    record: dict[str, Any]
    done: asyncio.Future[None] | None


@dataclass
class AuditLog:
    """One process's audit writer: chains, checkpoints, and writes records in order, in batches."""

    redis: Redis
    key: bytes
    writer: str = field(default_factory=lambda: new_writer_id("process"))
    sink: Sink = field(default_factory=StdoutSink)
    maxlen: int = STREAM_MAXLEN
    # 0: fsync every batch before its decisions take effect; else fsync at most this often.
    fsync_s: float = 0.2
    seq: int = 0
    head: str = GENESIS
    _queue: list[_Pending] = field(default_factory=list)
    _backlog: list[bytes] = field(default_factory=list)
    _wake: asyncio.Event | None = None
    _task: asyncio.Task[None] | None = None
    _since_checkpoint: int = 0
    _last_checkpoint: float = field(default_factory=time.monotonic)
    _closing: bool = False
    _syncer: asyncio.Task[None] | None = None

    def build(self, **fields: Any) -> dict[str, Any]:
        """A record with its timestamp; `None` fields are dropped."""
        record: dict[str, Any] = {"ts": round(time.time(), 6)}
        record.update({name: value for name, value in fields.items() if value is not None})
        return record

    async def write(self, record: dict[str, Any]) -> None:
        """Persist one record; raises `AuditUnavailable` when it did not reach both sink and stream."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._enqueue(_Pending(record, future))
        await future

    def write_local(self, record: dict[str, Any]) -> None:
        """Record a refusal made while Redis is down: it reaches the sink now, the stream later."""
        self._enqueue(_Pending(record, None))

    def _enqueue(self, pending: _Pending) -> None:
        self._queue.append(pending)
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._run())
        assert self._wake is not None
        self._wake.set()

    async def close(self) -> None:
        """Write what is queued and a closing checkpoint, then stop."""
        if self.seq:
            self._closing = True
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._enqueue(_Pending({"ts": round(time.time(), 6), "type": "closing"}, done))
            try:
                await asyncio.wait_for(done, timeout=5)
            except (AuditUnavailable, TimeoutError):
                logger.error(
                    "audit writer closed with records not in the stream", extra={"writer": self.writer}
                )
        if self._task is not None:
            self._task.cancel()
        self.sink.close()

    async def _sync_soon(self) -> None:
        # One fsync covers every write of the interval (group commit).
        await asyncio.sleep(self.fsync_s)
        assert isinstance(self.sink, FileSink)
        try:
            await asyncio.to_thread(self.sink.sync)
        except OSError:
            logger.error("audit sink fsync failed", extra={"writer": self.writer})

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue, []
                await self._write_batch(batch)

    def _chain(self, record: dict[str, Any]) -> bytes:
        self.seq += 1
        record.update({"w": self.writer, "seq": self.seq, "prev": self.head})
        record["h"] = record_hash(record)
        self.head = record["h"]
        return orjson.dumps(record)

    async def _write_batch(self, batch: list[_Pending]) -> None:
        lines = [self._chain(pending.record) for pending in batch]
        self._since_checkpoint += len(lines)
        elapsed = time.monotonic() - self._last_checkpoint
        if self._closing or self._since_checkpoint >= CHECKPOINT_EVERY or elapsed >= CHECKPOINT_S:
            # Vouches for the chain up to the record before it: (writer, seq, head) under the audit key.
            mark = {
                "ts": round(time.time(), 6),
                "type": "checkpoint",
                "mac": checkpoint_mac(self.key, self.writer, self.seq, self.head),
            }
            lines.append(self._chain(mark))
            self._since_checkpoint = 0
            self._last_checkpoint = time.monotonic()
        failure: str | None = None
        try:
            if isinstance(self.sink, FileSink):
                self.sink.write_lines(lines)  # to the page cache: microseconds
                if self.fsync_s <= 0:
                    await asyncio.to_thread(self.sink.sync)
                elif self._syncer is None or self._syncer.done():
                    self._syncer = asyncio.create_task(self._sync_soon())
            elif isinstance(self.sink, NullSink):
                self.sink.write_lines(lines)
            else:
                # A pipe can block when its reader is slow: never on the event loop.
                await asyncio.to_thread(self.sink.write_lines, lines)
        except OSError as exc:
            failure = f"sink: {type(exc).__name__}"
        else:
            # A record reaches the stream only once it is in the sink, so trimming loses nothing.
            self._backlog.extend(lines)
            if len(self._backlog) > MAX_BACKLOG:
                logger.error("audit stream backlog full; oldest records stay in the sink only")
                del self._backlog[: len(self._backlog) - MAX_BACKLOG]
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for line in self._backlog:
                        pipe.xadd(keys.AUDIT_STREAM, {"r": line}, maxlen=self.maxlen, approximate=True)
                    await pipe.execute()
                self._backlog.clear()
            except (RedisError, OSError) as exc:
                failure = f"stream: {type(exc).__name__}"
        for pending, line in zip(batch, lines, strict=False):
            if failure is not None:
                logger.error(
                    "audit record not fully written", extra={"audit_error": failure, "record": line.decode()}
                )
            if pending.done is not None and not pending.done.done():
                if failure is None:
                    pending.done.set_result(None)
                else:
                    pending.done.set_exception(AuditUnavailable(failure))


# --- verification -----------------------------------------------------------------------------------
@dataclass
class Verdict:
    """The result of checking one or more chains."""

    records: int = 0
    writers: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def verify(
    entries: Iterable[tuple[str, bytes | str]], key: bytes | None, *, complete: bool = False
) -> Verdict:
    """Check every writer's chain in `entries` ((location, JSON line) in stored order).

    Catches a modified record (its hash), a deleted or inserted one (a broken link or a sequence gap), a
    reordered one (a sequence out of order), and a rewritten chain (checkpoints that no longer match,
    with `key`). With `complete`, every chain must start at sequence 1 (a full history, e.g. the files);
    a stream trimmed by length may start later.
    """
    verdict = Verdict()
    last: dict[str, tuple[int, str]] = {}
    for where, raw in entries:
        verdict.records += 1
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            verdict.problems.append(f"{where}: not valid JSON")
            continue
        writer, seq, prev, stored = record.get("w"), record.get("seq"), record.get("prev"), record.get("h")
        if not isinstance(writer, str) or not isinstance(seq, int) or not isinstance(prev, str):
            verdict.problems.append(f"{where}: not a chained record")
            continue
        if stored != record_hash(record):
            verdict.problems.append(f"{where}: writer {writer} record {seq} was modified (hash mismatch)")
        if writer in last:
            last_seq, last_hash = last[writer]
            if seq <= last_seq:
                verdict.problems.append(
                    f"{where}: writer {writer} record {seq} is out of order (after {last_seq})"
                )
            elif seq != last_seq + 1:
                verdict.problems.append(
                    f"{where}: writer {writer} records {last_seq + 1}..{seq - 1} are missing (deleted)"
                )
            elif prev != last_hash:
                verdict.problems.append(
                    f"{where}: writer {writer} record {seq} does not follow record {last_seq}"
                )
        elif complete and (seq != 1 or prev != GENESIS):
            verdict.problems.append(f"{where}: writer {writer} starts at record {seq}, not 1")
        if record.get("type") == "checkpoint" and key is not None:
            verdict.checkpoints += 1
            # The checkpoint vouches for the chain up to the record before it.
            expected = checkpoint_mac(key, writer, seq - 1, prev)
            if not hmac.compare_digest(str(record.get("mac", "")), expected):
                verdict.problems.append(
                    f"{where}: writer {writer} checkpoint {seq} does not match (chain rewritten)"
                )
        last[writer] = (seq, stored if isinstance(stored, str) else "")
    verdict.writers = len(last)
    return verdict
