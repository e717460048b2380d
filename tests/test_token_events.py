"""`TokenEvents`: a job's text reaches its stream once and in order, even when Redis drops a reply."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, cast

import orjson
import pytest
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError

from shared import keys
from shared.redis import Scripts
from worker import events as events_module
from worker.events import TokenEvents

JOB = "job-1"


class Flaky:
    """A client whose next writes (`xadd`, `evalsha`) fail: "down" before Redis sees them, "lost" after."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.failures: list[str] = []
        self.appends = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.redis, name)

    def register_script(self, source: str) -> AsyncScript:
        return AsyncScript(cast(Redis, self), source)

    async def xadd(self, key: str, fields: dict[str, Any]) -> Any:
        self.appends += 1
        return await self._write(self.redis.xadd(key, fields))

    async def evalsha(self, *args: Any) -> Any:
        return await self._write(self.redis.evalsha(*args))

    async def _write(self, command: Awaitable[Any]) -> Any:
        failure = self.failures.pop(0) if self.failures else None
        if failure == "down":
            command.close()  # type: ignore[attr-defined]
            raise RedisConnectionError("Connection refused")
        reply = await command
        if failure == "lost":
            raise RedisConnectionError("Connection reset by peer")
        return reply


async def stream(redis: Redis) -> list[dict[str, Any]]:
    return [orjson.loads(fields["e"]) for _, fields in await redis.xrange(keys.events(JOB))]


async def failed_flush(events: TokenEvents, flaky: Flaky, text: str, failure: str) -> None:
    """Add `text` and flush it, the write failing as `failure` says ("down" or "lost")."""
    flaky.failures = [failure]
    await events.add(text)
    with pytest.raises(RedisConnectionError):
        await events.flush()


def texts(history: list[dict[str, Any]]) -> list[str]:
    return [event["text"] for event in history if event["type"] == "token"]


@pytest.fixture
def flaky(redis: Redis) -> Flaky:
    return Flaky(redis)


@pytest.fixture
def events(redis: Redis, flaky: Flaky) -> TokenEvents:
    return TokenEvents(cast(Redis, flaky), Scripts(cast(Redis, flaky)).append_once, JOB)


async def test_a_batch_whose_reply_was_lost_is_not_written_twice(
    redis: Redis, flaky: Flaky, events: TokenEvents
) -> None:
    await failed_flush(events, flaky, "one ", "lost")
    await events.add("two")
    await events.flush()
    assert texts(await stream(redis)) == ["one ", "two"]


async def test_a_batch_redis_never_saw_is_written_on_the_next_flush(
    redis: Redis, flaky: Flaky, events: TokenEvents
) -> None:
    await failed_flush(events, flaky, "one ", "down")
    assert await stream(redis) == []
    await events.flush()
    assert texts(await stream(redis)) == ["one "]
    assert flaky.appends == 1  # the retry went through the script, which appended it


async def test_the_mark_is_found_behind_entries_other_writers_added(
    redis: Redis, flaky: Flaky, events: TokenEvents
) -> None:
    await failed_flush(events, flaky, "one ", "lost")
    for _ in range(3):
        await redis.xadd(keys.events(JOB), {"e": orjson.dumps({"type": "queued", "position": 0})})
    await events.add("two")
    await events.flush()
    assert texts(await stream(redis)) == ["one ", "two"]


async def test_text_generated_through_an_outage_arrives_once_and_in_order(
    redis: Redis, flaky: Flaky, events: TokenEvents, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every token flushes at once unless a failure paused writes; a failed `add` never raises.
    monkeypatch.setattr(events_module, "FLUSH_INTERVAL_S", 0.0)
    monkeypatch.setattr(events_module, "RETRY_AFTER_FAILURE_S", 0.0)
    # The first batch's reply is lost, then its retries fail too (one of them reaching Redis, unseen).
    flaky.failures = ["lost", "down", "down", "lost"]
    words = [f"w{n} " for n in range(12)]
    for word in words:
        await events.add(word)
    await events.flush()
    written = texts(await stream(redis))
    assert "".join(written) == "".join(words)
    assert len(written) < len(words)  # text held back while writes failed went out in fewer batches


async def test_an_unsure_batch_is_settled_even_with_nothing_new_to_write(
    redis: Redis, flaky: Flaky, events: TokenEvents
) -> None:
    await failed_flush(events, flaky, "only", "lost")
    await events.flush()
    await events.flush()
    assert texts(await stream(redis)) == ["only"]
