"""The job life cycle in Redis: submit, fair dispatch, claim, finish, cancel and reap, each one Lua script."""

import asyncio
import time
from collections import Counter

import orjson
import pytest
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from scheduler.dispatch import Dispatcher
from scheduler.main import ReapWindow
from shared import keys
from shared.jobs import (
    CANCELLED,
    EXPIRED,
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


@pytest.fixture
def dispatcher(redis: Redis) -> Dispatcher:
    return Dispatcher(redis, Scripts(redis), [POOL])


async def add_worker(redis: Redis, slots: int, worker_id: str = "w1") -> None:
    await redis.hset(
        keys.worker(worker_id), mapping={"concurrency": slots, "models": orjson.dumps({"m": True})}
    )
    await redis.zadd(keys.workers(POOL), {worker_id: time.time() * 1000 + 60_000})


async def submit(
    store: JobStore,
    user: str,
    prompt: str = "hello there",
    *,
    weight: float = 1.0,
    max_queued_pool: int = 10_000,
) -> str:
    job_id, _ = await store.submit(
        user=user,
        model="m",
        pool=POOL,
        request=GenerationRequest(max_tokens=8, prompt=prompt),
        request_id="r",
        max_queued=100,
        max_queued_pool=max_queued_pool,
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


async def dispatch_order(redis: Redis) -> list[str]:
    """Users in the order their jobs were dispatched (the wake list holds ids newest first)."""
    pushed = await redis.lrange(keys.worker_wake(POOL), 0, -1)
    return [await redis.hget(keys.job(job_id), "user") for job_id in reversed(pushed)]


async def test_submit_queues_per_user_and_reports_position(store: JobStore, redis: Redis) -> None:
    first = await submit(store, "alice")
    second = await submit(store, "alice")
    assert (await store.get(first)).queue_position == 1  # type: ignore[union-attr]
    assert (await store.get(second)).queue_position == 2  # type: ignore[union-attr]
    assert await redis.llen(keys.user_queue(POOL, "alice")) == 2
    assert await redis.get(keys.pool_waiting(POOL)) == "2"
    assert await events(redis, second) == [{"type": "queued", "position": 2}]
    assert (await store.get(first)).status == QUEUED  # type: ignore[union-attr]


async def test_positions_account_for_other_users_fairly(store: JobStore) -> None:
    heavy = [await submit(store, "heavy") for _ in range(10)]
    light = await submit(store, "light")
    # Fair queueing puts the light user's only job second, not eleventh.
    assert (await store.get(light)).queue_position == 2  # type: ignore[union-attr]
    assert (await store.get(heavy[2])).queue_position == 4  # type: ignore[union-attr]


async def test_a_full_user_queue_refuses_without_storing_anything(store: JobStore, redis: Redis) -> None:
    for _ in range(3):
        await store.submit(
            user="alice",
            model="m",
            pool=POOL,
            request=GenerationRequest(max_tokens=1, prompt="x"),
            request_id="r",
            max_queued=3,
            max_queued_pool=100,
        )
    with pytest.raises(QueueFull) as refused:
        await store.submit(
            user="alice",
            model="m",
            pool=POOL,
            request=GenerationRequest(max_tokens=1, prompt="x"),
            request_id="r",
            max_queued=3,
            max_queued_pool=100,
            job_id="f" * 32,
        )
    assert not refused.value.pool_wide
    assert not await redis.exists(keys.job("f" * 32))
    assert await redis.llen(keys.user_queue(POOL, "alice")) == 3


async def test_a_full_pool_refuses_every_user(store: JobStore, redis: Redis) -> None:
    await submit(store, "alice", max_queued_pool=2)
    await submit(store, "bob", max_queued_pool=2)
    with pytest.raises(QueueFull) as refused:
        await submit(store, "carol", max_queued_pool=2)
    assert refused.value.pool_wide and refused.value.waiting == 2


async def test_dispatch_fills_only_free_slots(store: JobStore, dispatcher: Dispatcher, redis: Redis) -> None:
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
    assert await redis.get(keys.pool_waiting(POOL)) == "3"
    job_id = (await redis.zrange(keys.arq_queue(POOL), 0, 0))[0]
    payload = orjson.loads(await redis.get(keys.ARQ_JOB_PREFIX + job_id))
    assert payload["f"] == "run_job" and payload["a"] == [job_id]
    assert (await store.get(job_id)).queue_position == 1  # type: ignore[union-attr]


async def test_a_light_user_is_served_within_one_round_of_a_flood(
    store: JobStore, dispatcher: Dispatcher, redis: Redis
) -> None:
    await add_worker(redis, slots=100)
    for _ in range(10):
        await submit(store, "heavy")
    for _ in range(2):
        await submit(store, "light")
    assert await dispatcher.dispatch(POOL) == 12
    order = await dispatch_order(redis)
    assert len(order) == 12
    # Start-time fair queueing alternates: the light user's two jobs go out among the first four.
    assert order[:4].count("light") == 2


async def test_ten_users_share_equally(store: JobStore, dispatcher: Dispatcher, redis: Redis) -> None:
    await add_worker(redis, slots=50)
    for user in range(10):
        for _ in range(20):
            await submit(store, f"user{user}")
    assert await dispatcher.dispatch(POOL) == 50
    assert set(Counter(await dispatch_order(redis)).values()) == {5}


async def test_weights_share_slots_in_proportion(
    store: JobStore, dispatcher: Dispatcher, redis: Redis
) -> None:
    await add_worker(redis, slots=12)
    for _ in range(20):
        await submit(store, "gold", weight=3.0)
        await submit(store, "bronze", weight=1.0)
    assert await dispatcher.dispatch(POOL) == 12
    assert Counter(await dispatch_order(redis)) == {"gold": 9, "bronze": 3}


async def test_ten_users_with_unequal_weights(store: JobStore, dispatcher: Dispatcher, redis: Redis) -> None:
    await add_worker(redis, slots=60)
    for user in range(10):
        for _ in range(30):
            await submit(store, f"user{user}", weight=2.0 if user < 5 else 1.0)
    assert await dispatcher.dispatch(POOL) == 60
    shares = Counter(await dispatch_order(redis))
    assert all(shares[f"user{u}"] == 8 for u in range(5))
    assert all(shares[f"user{u}"] == 4 for u in range(5, 10))


async def test_fair_share_is_charged_by_gpu_seconds_used(
    store: JobStore, dispatcher: Dispatcher, redis: Redis
) -> None:
    await add_worker(redis, slots=2)
    first = {user: await submit(store, user) for user in ("greedy", "modest")}
    assert await dispatcher.dispatch(POOL) == 2
    for user, used in (("greedy", 10.0), ("modest", 1.0)):
        await store.claim(first[user], pool=POOL, worker_id="w1", lease_s=30, job_try=1)
        await store.finish(
            first[user],
            pool=POOL,
            status=SUCCEEDED,
            usage=Usage(gpu_seconds=used),
            content="x",
            wall_seconds=used,
        )
    # Both were charged the same estimate at dispatch; the end corrects it to what each really used.
    assert float(await redis.hget(keys.user_vtime(POOL), "greedy")) == pytest.approx(10.0)
    assert float(await redis.hget(keys.user_vtime(POOL), "modest")) == pytest.approx(1.0)
    # The model's expected cost follows what its jobs use (a moving average).
    assert float(await redis.hget(keys.costs(POOL), "m")) == pytest.approx(8.2)
    await redis.delete(keys.worker_wake(POOL))
    for _ in range(3):
        await submit(store, "greedy")
        await submit(store, "modest")
    await add_worker(redis, slots=10)
    dispatcher.monitor._cache.clear()
    assert await dispatcher.dispatch(POOL) == 6
    # Equal job counts would alternate; charged by GPU-seconds, the modest user goes twice first.
    assert (await dispatch_order(redis))[:3] == ["modest", "modest", "greedy"]


async def test_fifo_policy_serves_in_submit_order(redis: Redis) -> None:
    store = JobStore(redis, Scripts(redis), result_ttl_s=60, policy="fifo")
    dispatcher = Dispatcher(redis, Scripts(redis), [POOL], policy="fifo")
    await add_worker(redis, slots=100)
    for _ in range(10):
        await submit(store, "heavy")
    light = await submit(store, "light")
    assert (await store.get(light)).queue_position == 11  # type: ignore[union-attr]
    assert await dispatcher.dispatch(POOL) == 11
    assert await dispatch_order(redis) == ["heavy"] * 10 + ["light"]


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


async def test_cancel_a_waiting_job_removes_it_everywhere(
    store: JobStore, dispatcher: Dispatcher, redis: Redis
) -> None:
    await add_worker(redis, slots=1)
    waiting_in_arq = await submit(store, "alice")
    waiting_in_user_queue = await submit(store, "alice")
    assert await dispatcher.dispatch(POOL) == 1
    assert await store.cancel(waiting_in_user_queue, "mallory") == ("missing", None)
    assert await store.cancel(waiting_in_user_queue, "alice") == ("cancelled", QUEUED)
    assert await store.cancel(waiting_in_arq, "alice") == ("cancelled", QUEUED)
    assert await redis.llen(keys.user_queue(POOL, "alice")) == 0
    assert await redis.get(keys.pool_waiting(POOL)) == "0"
    assert await redis.zcard(keys.arq_queue(POOL)) == 0
    assert await redis.zcard(keys.inflight(POOL)) == 0
    assert not await redis.exists(keys.ARQ_JOB_PREFIX + waiting_in_arq)
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
    used = Usage(completion_tokens=2, gpu_seconds=1.5)
    assert not await store.finish(job_id, pool=POOL, status=CANCELLED, usage=used, error_code="cancelled")
    job = await store.get(job_id)
    assert job is not None and job.status == CANCELLED and job.usage.gpu_seconds == 1.5
    assert await redis.zcard(keys.inflight(POOL)) == 0
    # Recorded once: a second report of the same job changes nothing.
    assert not await store.finish(job_id, pool=POOL, status=CANCELLED, usage=Usage(gpu_seconds=9.0))
    assert (await store.get(job_id)).usage.gpu_seconds == 1.5  # type: ignore[union-attr]


async def test_unknown_malformed_and_expired_job_ids(store: JobStore) -> None:
    assert await store.get(f"{int(time.time()):08x}" + "0" * 24) is None
    assert await store.get("../etc/passwd") is None
    assert await store.cancel("nope", "alice") == ("missing", None)
    old = f"{int(time.time()) - 3600:08x}" + "0" * 24
    expired = await store.get(old)
    assert expired is not None and expired.status == EXPIRED
    assert expired.public()["error"] == {"code": "expired", "message": "the job's result is no longer kept"}


async def test_reap_requeues_the_job_of_a_dead_worker(
    store: JobStore, dispatcher: Dispatcher, redis: Redis
) -> None:
    await add_worker(redis, slots=1, worker_id="doomed")
    job_id = await submit(store, "alice")
    assert await dispatcher.dispatch(POOL) == 1
    await redis.set(keys.ARQ_IN_PROGRESS_PREFIX + job_id, "1")  # the worker took it...
    await store.claim(job_id, pool=POOL, worker_id="doomed", lease_s=0.05, job_try=1)  # ...started it...
    await redis.delete(keys.worker("doomed"))  # ...and its heartbeat stopped.
    await asyncio.sleep(0.1)
    assert await dispatcher.reap(POOL) == (0, [job_id])
    job = await store.get(job_id)
    assert job is not None and job.status == QUEUED
    assert not await redis.exists(keys.ARQ_IN_PROGRESS_PREFIX + job_id)
    assert await redis.zscore(keys.arq_queue(POOL), job_id) is not None
    assert (await events(redis, job_id))[-1] == {"type": "retry", "attempt": 2, "reason": "worker lost"}
    # A fresh lease: nothing more to do on the next pass.
    assert await dispatcher.reap(POOL) == (0, [])


async def test_reap_leaves_live_workers_and_waiting_jobs_alone(
    store: JobStore, dispatcher: Dispatcher, redis: Redis
) -> None:
    await add_worker(redis, slots=2, worker_id="slow")
    running = await submit(store, "alice")
    waiting = await submit(store, "alice")
    assert await dispatcher.dispatch(POOL) == 2
    await store.claim(running, pool=POOL, worker_id="slow", lease_s=0.05, job_try=1)
    await redis.zadd(keys.inflight(POOL), {waiting: 0})
    await asyncio.sleep(0.1)
    assert await dispatcher.reap(POOL) == (0, [])
    assert (await store.get(running)).status == RUNNING  # type: ignore[union-attr]
    finished = await submit(store, "bob")
    await redis.zadd(keys.inflight(POOL), {finished: 0})
    await redis.hset(keys.job(finished), "status", SUCCEEDED)
    assert await dispatcher.reap(POOL) == (1, [])


def test_no_worker_is_reaped_within_a_lease_of_redis_coming_back() -> None:
    now = [100.0]
    window = ReapWindow(lease_s=6.0, clock=lambda: now[0])
    assert window.open(redis_uptime_s=3600)
    window.redis_failed()  # an error from Redis: down, or restarted under the scheduler
    now[0] += 5.9
    assert not window.open(redis_uptime_s=3600)  # the workers have not had a lease to heartbeat again
    now[0] += 0.2
    assert window.open(redis_uptime_s=3600)
    # A Redis that restarted while the scheduler was not looking: its uptime says so.
    assert not window.open(redis_uptime_s=2)
    assert window.open(redis_uptime_s=6)
