"""The job life cycle in Redis: submit, fair dispatch, claim, finish and cancel, each one Lua script."""

import time

import orjson
import pytest
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from scheduler.dispatch import Dispatcher
from shared import keys
from shared.jobs import (
    ARQ_JOB_PREFIX,
    CANCELLED,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    GenerationRequest,
    JobStore,
    QueueFull,
    Usage,
)
from shared.redis import Scripts

POOL = "p"


@pytest.fixture
def store(redis: Redis) -> JobStore:
    return JobStore(redis, Scripts(redis), result_ttl_s=60)


async def add_worker(redis: Redis, slots: int, worker_id: str = "w1") -> None:
    await redis.hset(
        keys.worker(worker_id), mapping={"concurrency": slots, "models": orjson.dumps({"m": True})}
    )
    await redis.zadd(keys.workers(POOL), {worker_id: time.time() * 1000 + 60_000})


async def submit(store: JobStore, user: str, prompt: str = "hello there", *, weight: float = 1.0) -> str:
    job_id, _ = await store.submit(
        user=user,
        model="m",
        pool=POOL,
        request=GenerationRequest(max_tokens=8, prompt=prompt),
        request_id="r",
        max_queued=100,
        weight=weight,
    )
    return job_id


async def next_message(pubsub: PubSub) -> str | None:
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if message is not None:
            return str(message["data"])
    return None


async def events(redis: Redis, job_id: str) -> list[dict[str, object]]:
    return [orjson.loads(fields["e"]) for _, fields in await redis.xrange(keys.events(job_id))]


async def test_submit_queues_per_user_and_reports_position(store: JobStore, redis: Redis) -> None:
    first = await submit(store, "alice")
    second = await submit(store, "alice")
    assert (await store.get(first)).queue_position == 1  # type: ignore[union-attr]
    assert (await store.get(second)).queue_position == 2  # type: ignore[union-attr]
    assert await redis.llen(keys.user_queue(POOL, "alice")) == 2
    assert await events(redis, second) == [{"type": "queued", "position": 2}]
    assert (await store.get(first)).status == QUEUED  # type: ignore[union-attr]


async def test_a_full_user_queue_refuses_without_storing_anything(store: JobStore, redis: Redis) -> None:
    for _ in range(3):
        await store.submit(
            user="alice",
            model="m",
            pool=POOL,
            request=GenerationRequest(max_tokens=1, prompt="x"),
            request_id="r",
            max_queued=3,
        )
    with pytest.raises(QueueFull):
        await store.submit(
            user="alice",
            model="m",
            pool=POOL,
            request=GenerationRequest(max_tokens=1, prompt="x"),
            request_id="r",
            max_queued=3,
            job_id="f" * 32,
        )
    assert not await redis.exists(keys.job("f" * 32))
    assert await redis.llen(keys.user_queue(POOL, "alice")) == 3


async def test_dispatch_fills_only_free_slots(store: JobStore, redis: Redis) -> None:
    dispatcher = Dispatcher(redis, Scripts(redis), [POOL])
    for _ in range(5):
        await submit(store, "alice")
    assert await dispatcher.dispatch(POOL) == 0  # no worker, no capacity
    await add_worker(redis, slots=2)
    dispatcher.monitor._cache.clear()
    assert await dispatcher.dispatch(POOL) == 2
    assert await dispatcher.dispatch(POOL) == 0
    assert await redis.zcard(keys.arq_queue(POOL)) == 2
    assert await redis.zcard(keys.inflight(POOL)) == 2
    assert await redis.llen(keys.user_queue(POOL, "alice")) == 3
    job_id = (await redis.zrange(keys.arq_queue(POOL), 0, 0))[0]
    payload = orjson.loads(await redis.get(ARQ_JOB_PREFIX + job_id))
    assert payload["f"] == "run_job" and payload["a"] == [job_id]


async def test_dispatch_alternates_between_backlogged_users(store: JobStore, redis: Redis) -> None:
    dispatcher = Dispatcher(redis, Scripts(redis), [POOL])
    await add_worker(redis, slots=100)
    flood = [await submit(store, "heavy") for _ in range(10)]
    light = [await submit(store, "light") for _ in range(2)]
    assert await dispatcher.dispatch(POOL) == 12
    ranks = {job_id: i for i, job_id in enumerate(await _dispatch_order(redis, flood + light))}
    assert len(ranks) == 12
    # Start-time fair queueing alternates: the light user's two jobs go out among the first four.
    assert ranks[light[0]] <= 1 and ranks[light[1]] <= 3


async def _dispatch_order(redis: Redis, job_ids: list[str]) -> list[str]:
    # The wake list holds the ids in reverse dispatch order (LPUSH).
    pushed = await redis.lrange(keys.worker_wake(POOL), 0, -1)
    return [job_id for job_id in reversed(pushed) if job_id in job_ids]


async def test_weights_share_slots_in_proportion(store: JobStore, redis: Redis) -> None:
    dispatcher = Dispatcher(redis, Scripts(redis), [POOL])
    await add_worker(redis, slots=12)
    for _ in range(20):
        await submit(store, "gold", weight=3.0)
        await submit(store, "bronze", weight=1.0)
    assert await dispatcher.dispatch(POOL) == 12
    users = [await redis.hget(keys.job(j), "user") for j in await redis.zrange(keys.arq_queue(POOL), 0, -1)]
    assert users.count("gold") == 9 and users.count("bronze") == 3


async def test_claim_finish_and_events(store: JobStore, redis: Redis) -> None:
    job_id = await submit(store, "alice", "one two three")
    claimed = await store.claim(job_id, pool=POOL, worker_id="w1", lease_s=30, job_try=1)
    assert claimed is not None
    user, model, request, _ = claimed
    assert (user, model, request.prompt) == ("alice", "m", "one two three")
    assert (await store.get(job_id)).status == RUNNING  # type: ignore[union-attr]
    assert await store.claim(job_id, pool=POOL, worker_id="w2", lease_s=30, job_try=1) is None
    usage = Usage(prompt_tokens=3, completion_tokens=3, gpu_seconds=0.5)
    assert await store.finish(job_id, pool=POOL, status=SUCCEEDED, usage=usage, content="one two three")
    assert not await store.finish(job_id, pool=POOL, status=FAILED, usage=usage, error_code="x")
    job = await store.get(job_id)
    assert job is not None and job.status == SUCCEEDED and job.content == "one two three"
    assert job.public()["usage"] == {
        "prompt_tokens": 3,
        "completion_tokens": 3,
        "gpu_seconds": 0.5,
        "gpu_seconds_measured": False,
    }
    assert "request" not in await redis.hkeys(keys.job(job_id))  # the prompt is gone once the job ended
    assert [e["type"] for e in await events(redis, job_id)] == ["queued", "started", "done"]
    assert 0 < await redis.ttl(keys.job(job_id)) <= 60


async def test_cancel_a_waiting_job_removes_it_everywhere(store: JobStore, redis: Redis) -> None:
    dispatcher = Dispatcher(redis, Scripts(redis), [POOL])
    await add_worker(redis, slots=1)
    waiting_in_arq = await submit(store, "alice")
    waiting_in_user_queue = await submit(store, "alice")
    assert await dispatcher.dispatch(POOL) == 1
    assert await store.cancel(waiting_in_user_queue, "mallory") == ("missing", None)
    assert await store.cancel(waiting_in_user_queue, "alice") == ("cancelled", QUEUED)
    assert await store.cancel(waiting_in_arq, "alice") == ("cancelled", QUEUED)
    assert await redis.llen(keys.user_queue(POOL, "alice")) == 0
    assert await redis.zcard(keys.arq_queue(POOL)) == 0
    assert await redis.zcard(keys.inflight(POOL)) == 0
    assert not await redis.exists(ARQ_JOB_PREFIX + waiting_in_arq)
    job = await store.get(waiting_in_arq)
    assert job is not None and job.status == CANCELLED and job.error_code == "cancelled"
    assert await store.cancel(waiting_in_arq, "alice") == ("final", CANCELLED)


async def test_cancelled_running_job_keeps_its_state_but_records_usage(store: JobStore, redis: Redis) -> None:
    job_id = await submit(store, "alice")
    await store.claim(job_id, pool=POOL, worker_id="w1", lease_s=30, job_try=1)
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(keys.CANCEL_CHANNEL)
        assert await store.cancel(job_id, "alice") == ("cancelled", RUNNING)
        assert await next_message(pubsub) == job_id
    ended = await store.finish(
        job_id,
        pool=POOL,
        status=CANCELLED,
        usage=Usage(completion_tokens=2, gpu_seconds=1.5),
        error_code="cancelled",
    )
    assert not ended
    job = await store.get(job_id)
    assert job is not None and job.status == CANCELLED and job.usage.gpu_seconds == 1.5
    assert await redis.zcard(keys.inflight(POOL)) == 0


async def test_unknown_and_malformed_job_ids(store: JobStore) -> None:
    assert await store.get("0" * 32) is None
    assert await store.get("../etc/passwd") is None
    assert await store.cancel("nope", "alice") == ("missing", None)
