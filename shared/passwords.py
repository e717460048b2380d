"""Argon2id password hashing that never blocks the event loop and never runs unbounded.

Each hash takes `ARGON2_MEMORY_COST` KiB and a hundred milliseconds of CPU, so a login flood is a memory
and CPU attack. `PasswordService` runs hashes on its own threads, at most `max_concurrent` at once with at
most `max_waiting` callers queued behind them; anyone beyond that is refused at once (`Overloaded`). The
hashing threads run at a lower CPU priority (nice +10 on Linux), so a flood of logins cannot starve the
event loop that serves everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

HASHING_NICENESS = 10


def _lower_priority() -> None:
    # On Linux a thread is a schedulable task of its own: this lowers only the hashing thread.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


class Overloaded(Exception):
    """Too many hashes are running or waiting; the caller should retry shortly."""


class PasswordService:
    """Hash and verify passwords with Argon2id under a concurrency bound."""

    def __init__(
        self,
        *,
        time_cost: int,
        memory_cost: int,
        parallelism: int,
        max_concurrent: int,
        max_waiting: int,
    ) -> None:
        self.hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            type=Type.ID,
        )
        self._slots = asyncio.Semaphore(max_concurrent)
        self._executor = ThreadPoolExecutor(
            max_workers=max_concurrent, thread_name_prefix="argon2", initializer=_lower_priority
        )
        self._capacity = max_concurrent + max_waiting
        self._admitted = 0
        # Verifying against this costs what a real verify costs, so unknown users take as long as known ones.
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(32))

    async def _run(self, func: object, *args: str) -> object:
        if self._admitted >= self._capacity:
            raise Overloaded("password hashing is saturated")
        self._admitted += 1
        try:
            async with self._slots:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._executor, func, *args)  # type: ignore[arg-type]
        finally:
            self._admitted -= 1

    async def hash(self, password: str) -> str:
        """A new Argon2id hash of `password`."""
        result = await self._run(self.hasher.hash, password)
        assert isinstance(result, str)
        return result

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when `password` matches; an absent hash is checked against a dummy at the same cost."""
        target = stored_hash or self._dummy_hash
        ok = await self._run(self._verify_sync, target, password)
        return bool(ok) and stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when `stored_hash` was made with other parameters than the current ones."""
        try:
            return self.hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def _verify_sync(self, stored_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
