"""The life of a job in Redis: accepted, queued per user and pool, run by a worker, ended.

States: queued -> running -> succeeded | failed | cancelled (and `expired` once its record is gone).
Every transition is one Lua script, so a crash at any instant leaves a consistent state, and every
transition appends an event to the job's stream (`queued`, `started`, `token`, `done`, `error`).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from redis.asyncio import Redis

from shared import keys
from shared.redis import Scripts

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED, EXPIRED = (
    "queued",
    "running",
    "succeeded",
    "failed",
    "cancelled",
    "expired",
)
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED, EXPIRED})
ARQ_FUNCTION = "run_job"
POSITION_MAX_USERS = 200  # other users looked at when placing a waiting job
DISPATCH_LEASE_MS = 6_000  # a dispatched job's slot lease before its worker renews it
ARQ_JOB_TTL_MS = 86_400_000


class QueueFull(Exception):
    """The user (or, with `pool_wide`, the whole pool) already has as many jobs waiting as allowed."""

    def __init__(self, waiting: int, *, pool_wide: bool = False) -> None:
        super().__init__(f"{waiting} jobs already waiting")
        self.waiting = waiting
        self.pool_wide = pool_wide


def now_ms() -> float:
    """Wall-clock milliseconds, with sub-millisecond precision."""
    return time.time() * 1000.0


def new_job_id() -> str:
    """An unguessable job id: 8 hex digits of creation time, then 96 random bits.

    The time lets a poller be told `expired` for a job whose record is gone, without keeping anything
    per job: an id the clock says is older than the result TTL is expired, whether or not it existed.
    """
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{secrets.token_hex(12)}"


def created_at_of(job_id: str) -> int:
    """The creation time (epoch seconds) written into a job id."""
    return int(job_id[:8], 16)


def iso(ms: str | float | None) -> str | None:
    """An ISO 8601 UTC timestamp from epoch milliseconds."""
    if ms in (None, ""):
        return None
    return datetime.fromtimestamp(float(ms) / 1000.0, UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class GenerationRequest:
    """What a backend is asked to do: complete a prompt, or continue a chat."""

    max_tokens: int
    prompt: str | None = None
    messages: tuple[Message, ...] = ()
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()

    def to_json(self) -> str:
        data: dict[str, Any] = {"max_tokens": self.max_tokens}
        if self.prompt is not None:
            data["prompt"] = self.prompt
        if self.messages:
            data["messages"] = [{"role": m.role, "content": m.content} for m in self.messages]
        if self.temperature is not None:
            data["temperature"] = self.temperature
        if self.top_p is not None:
            data["top_p"] = self.top_p
        if self.stop:
            data["stop"] = list(self.stop)
        return orjson.dumps(data).decode()

    @classmethod
    def from_json(cls, raw: str) -> GenerationRequest:
        data = orjson.loads(raw)
        return cls(
            max_tokens=int(data["max_tokens"]),
            prompt=data.get("prompt"),
            messages=tuple(Message(m["role"], m["content"]) for m in data.get("messages", ())),
            temperature=data.get("temperature"),
            top_p=data.get("top_p"),
            stop=tuple(data.get("stop", ())),
        )

    def text(self) -> str:
        """All the text the client sent (what the firewall and the token estimate look at)."""
        if self.prompt is not None:
            return self.prompt
        return "\n".join(m.content for m in self.messages)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    gpu_seconds: float = 0.0
    gpu_seconds_measured: bool = False
    energy_joules: float | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "gpu_seconds": round(self.gpu_seconds, 6),
            "gpu_seconds_measured": self.gpu_seconds_measured,
        }
        if self.energy_joules is not None:
            data["energy_joules"] = round(self.energy_joules, 3)
        return data


@dataclass(frozen=True)
class Job:
    """A job as clients see it."""

    job_id: str
    status: str
    user: str
    model: str
    pool: str
    created_at: str | None
    started_at: str | None = None
    finished_at: str | None = None
    content: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    usage: Usage = field(default_factory=Usage)
    queue_position: int | None = None
    eta_s: float | None = None
    request_id: str | None = None
    dispatched_at: str | None = None
    tries: int = 1

    @classmethod
    def from_hash(cls, job_id: str, raw: dict[str, str]) -> Job:
        usage = Usage(
            prompt_tokens=int(raw.get("prompt_tokens") or 0),
            completion_tokens=int(raw.get("completion_tokens") or 0),
            gpu_seconds=float(raw.get("gpu_seconds") or 0.0),
            gpu_seconds_measured=raw.get("gpu_seconds_measured") == "1",
            energy_joules=float(raw["energy_joules"]) if raw.get("energy_joules") else None,
        )
        return cls(
            job_id=job_id,
            status=raw.get("status", EXPIRED),
            user=raw.get("user", ""),
            model=raw.get("model", ""),
            pool=raw.get("pool", ""),
            created_at=raw.get("created_at"),
            started_at=raw.get("started_at"),
            finished_at=raw.get("finished_at"),
            content=raw.get("content"),
            error_code=raw.get("error_code"),
            error_message=raw.get("error_message"),
            usage=usage,
            request_id=raw.get("request_id"),
            dispatched_at=raw.get("dispatched_at"),
            tries=int(raw.get("tries") or 1),
        )

    @classmethod
    def expired(cls, job_id: str) -> Job:
        """What a poller sees once a job's record has gone."""
        return cls(
            job_id=job_id,
            status=EXPIRED,
            user="",
            model="",
            pool="",
            created_at=repr(created_at_of(job_id) * 1000.0),
            error_code="expired",
            error_message="the job's result is no longer kept",
        )

    def public(self) -> dict[str, Any]:
        """The contract's job document."""
        return {
            "job_id": self.job_id,
            "status": self.status,
            "model": self.model,
            "result": {"content": self.content} if self.status == SUCCEEDED else None,
            "error": (
                {"code": self.error_code or "error", "message": self.error_message or ""}
                if self.status in (FAILED, CANCELLED, EXPIRED)
                else None
            ),
            "usage": self.usage.as_dict(),
            "queue_position": self.queue_position,
            "eta_s": self.eta_s,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
        }


def done_event(content: str, usage: Usage) -> str:
    return orjson.dumps({"type": "done", "result": {"content": content}, "usage": usage.as_dict()}).decode()


def error_event(code: str, message: str) -> str:
    return orjson.dumps({"type": "error", "code": code, "message": message}).decode()


class JobStore:
    """Every job transition, each one atomic in Redis."""

    def __init__(self, redis: Redis, scripts: Scripts, *, result_ttl_s: int, policy: str = "fair") -> None:
        self.redis = redis
        self.scripts = scripts
        self.result_ttl_s = result_ttl_s
        self.policy = policy
        # A job that waits longer than this is dropped with its record.
        self.queued_ttl_s = max(result_ttl_s, 86_400)

    # --- API side ------------------------------------------------------------------------------------
    async def submit(
        self,
        *,
        user: str,
        model: str,
        pool: str,
        request: GenerationRequest,
        request_id: str,
        max_queued: int,
        max_queued_pool: int,
        weight: float = 1.0,
        job_id: str | None = None,
        extra: dict[str, str] | None = None,
        capacity: int = 0,
    ) -> tuple[str, int]:
        """Queue a job for `user` on `pool`; returns (job id, position in the user's queue).

        `extra` fields are stored with the job (the quota reservation its end settles). With the pool's
        `capacity` (slots of its live workers) a job goes straight to the pool when nobody waits there.
        """
        job_id = job_id or new_job_id()
        fields = [
            "user", user,
            "model", model,
            "pool", pool,
            "request", request.to_json(),
            "request_id", request_id,
            "max_tokens", str(request.max_tokens),
            "weight", repr(float(weight)),
            "created_at", repr(now_ms()),
        ]  # fmt: skip
        for name, value in (extra or {}).items():
            fields += [name, value]
        result = await self.scripts.submit(
            keys=[
                keys.job(job_id),
                keys.events(job_id),
                keys.user_queue(pool, user),
                keys.ready(pool),
                keys.user_vtime(pool),
                keys.vclock(pool),
                keys.SCHEDULER_WAKE,
                keys.pool_waiting(pool),
                keys.pool_seq(pool),
                keys.costs(pool),
                keys.inflight(pool),
                keys.arq_queue(pool),
                keys.worker_wake(pool),
            ],
            args=[
                job_id,
                user,
                model,
                max_queued,
                max_queued_pool,
                self.queued_ttl_s,
                self.policy,
                capacity,
                int(time.time() * 1000),
                DISPATCH_LEASE_MS,
                ARQ_JOB_TTL_MS,
                keys.ARQ_JOB_PREFIX,
                ARQ_FUNCTION,
                *fields,
            ],
        )
        if int(result[0]) < 0:
            raise QueueFull(int(result[1]), pool_wide=int(result[0]) == -2)
        return job_id, int(result[0])

    async def get(self, job_id: str) -> Job | None:
        """The job (a waiting one with its queue position), `expired` once its record is gone, else None."""
        if not _valid_job_id(job_id):
            return None
        raw = await self.redis.hgetall(keys.job(job_id))
        if not raw:
            if time.time() - created_at_of(job_id) > self.result_ttl_s:
                return Job.expired(job_id)
            return None
        job = Job.from_hash(job_id, raw)
        if job.status != QUEUED:
            return job
        return replace(job, queue_position=await self.jobs_ahead(job) + 1)

    async def with_eta(self, job: Job, slots: int) -> Job:
        """A waiting job with an estimate of when it starts, from the pool's slots and recent job times."""
        if job.status != QUEUED or job.queue_position is None or slots <= 0:
            return job
        average = await self.redis.hget(keys.service_times(job.pool), job.model)
        if average is None:
            return job
        rounds = (job.queue_position - 1) // slots
        return replace(job, eta_s=round(rounds * float(average), 3))

    async def jobs_ahead(self, job: Job) -> int:
        """How many jobs of the pool will start before this waiting one."""
        result = await self.scripts.position(
            keys=[keys.job(job.job_id), keys.ready(job.pool)],
            args=[job.job_id, keys.USER_QUEUE_PREFIX, keys.JOB_PREFIX, self.policy, POSITION_MAX_USERS],
        )
        return max(0, int(result[0]))

    async def cancel(self, job_id: str, user: str) -> tuple[str, str | None]:
        """Cancel `user`'s job; returns ("missing"|"cancelled"|"final", previous or final status)."""
        if not _valid_job_id(job_id):
            return "missing", None
        result = await self.scripts.cancel(
            keys=[
                keys.job(job_id),
                keys.events(job_id),
                keys.JOB_DONE_CHANNEL,
                keys.CANCEL_CHANNEL,
                keys.SCHEDULER_WAKE,
            ],
            args=[
                job_id,
                user,
                repr(now_ms()),
                self.result_ttl_s,
                error_event("cancelled", "cancelled by its owner"),
                keys.USER_QUEUE_PREFIX,
                keys.INFLIGHT_PREFIX,
                keys.ARQ_QUEUE_PREFIX,
                keys.ARQ_JOB_PREFIX,
                keys.POOL_WAITING_PREFIX,
                keys.RATE_PREFIX,
                keys.IN_FLIGHT_PREFIX,
                keys.LEDGER_PREFIX,
            ],
        )
        outcome = str(result[0])
        return outcome, (str(result[1]) if len(result) > 1 else None)

    # --- worker side ---------------------------------------------------------------------------------
    async def claim(
        self, job_id: str, *, pool: str, worker_id: str, lease_s: float, job_try: int
    ) -> tuple[str, str, GenerationRequest, str] | None:
        """Mark the job running; returns (user, model, request, request_id), or None if it must not run."""
        started = now_ms()
        result = await self.scripts.start(
            keys=[keys.job(job_id), keys.events(job_id), keys.inflight(pool), keys.stats(pool)],
            args=[job_id, worker_id, repr(started), int(started + lease_s * 1000), job_try],
        )
        if not result:
            return None
        user, model, request, request_id = (str(part) for part in result)
        return user, model, GenerationRequest.from_json(request), request_id

    async def finish(
        self,
        job_id: str,
        *,
        pool: str,
        status: str,
        usage: Usage,
        wall_seconds: float = 0.0,
        content: str | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> bool:
        """Record how the job ended and what it used; False when it had already ended (e.g. cancelled)."""
        fields = [
            "prompt_tokens", str(usage.prompt_tokens),
            "completion_tokens", str(usage.completion_tokens),
            "gpu_seconds", repr(usage.gpu_seconds),
            "gpu_seconds_measured", "1" if usage.gpu_seconds_measured else "0",
        ]  # fmt: skip
        if usage.energy_joules is not None:
            fields += ["energy_joules", repr(usage.energy_joules)]
        if status == SUCCEEDED:
            fields += ["content", content or ""]
            event = done_event(content or "", usage)
        else:
            fields += ["error_code", error_code or "error", "error_message", error_message or ""]
            event = error_event(error_code or "error", error_message or "")
        result = await self.scripts.finish(
            keys=[
                keys.job(job_id),
                keys.events(job_id),
                keys.inflight(pool),
                keys.SCHEDULER_WAKE,
                keys.JOB_DONE_CHANNEL,
                keys.user_vtime(pool),
                keys.ready(pool),
                keys.costs(pool),
                keys.service_times(pool),
                keys.pool_waiting(pool),
            ],
            args=[
                job_id,
                status,
                repr(now_ms()),
                self.result_ttl_s,
                event,
                repr(float(usage.gpu_seconds)),
                repr(float(wall_seconds)),
                self.policy,
                usage.prompt_tokens + usage.completion_tokens,
                keys.RATE_PREFIX,
                keys.IN_FLIGHT_PREFIX,
                keys.LEDGER_PREFIX,
                keys.stats(pool),
                *fields,
            ],
        )
        return bool(result)


def _valid_job_id(job_id: str) -> bool:
    return len(job_id) == 32 and all(c in "0123456789abcdef" for c in job_id)
