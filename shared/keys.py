"""Every Redis key, stream and channel the gateway uses, named in one place.

All keys live under one prefix so a shared Redis can be inspected (and cleaned) safely. Lua scripts get
their keys passed in from here; they never build key names themselves except from the prefixes below.
"""

from __future__ import annotations

PREFIX = "sai:"

# --- identity ----------------------------------------------------------------------------------------
USERS = PREFIX + "users"  # set of user names
USER_PREFIX = PREFIX + "user:"  # hash per user
TOKEN_USES_PREFIX = PREFIX + "tokuse:"  # counter per scoped-token jti
REVOKED_PREFIX = PREFIX + "revoked:"  # user-token jti denylist
LOGIN_FAILURES_PREFIX = PREFIX + "loginfail:"

# --- limits ------------------------------------------------------------------------------------------
RATE_PREFIX = PREFIX + "rate:"  # GCRA state per dimension and user: rate:<dimension>:<user>
IN_FLIGHT_PREFIX = PREFIX + "flight:"  # zset per user: job id -> deadline (queued or running jobs)
LEDGER_PREFIX = PREFIX + "ledger:"  # hash per user: requests, tokens, gpu_seconds charged in total

# --- jobs --------------------------------------------------------------------------------------------
JOB_PREFIX = PREFIX + "job:"  # hash per job
EVENTS_PREFIX = PREFIX + "ev:"  # stream of events per job
# pub/sub: "<job id>[ <job hash as JSON>]" published when a job reaches a terminal state
JOB_DONE_CHANNEL = PREFIX + "jobdone"
CANCEL_CHANNEL = PREFIX + "cancel"  # pub/sub: job id published when a running job must stop

# --- queues and scheduling ---------------------------------------------------------------------------
USER_QUEUE_PREFIX = PREFIX + "q:"  # list per (pool, user): the user's waiting jobs
READY_PREFIX = PREFIX + "ready:"  # zset per pool: backlogged users by virtual time
VCLOCK_PREFIX = PREFIX + "vclock:"  # per pool: virtual time of the last dispatch
USER_VTIME_PREFIX = PREFIX + "vtime:"  # hash per pool: user -> virtual finish time
INFLIGHT_PREFIX = PREFIX + "inflight:"  # zset per pool: job id -> lease deadline (ms)
POOL_WAITING_PREFIX = PREFIX + "waiting:"  # counter per pool: jobs in its per-user queues
POOL_SEQ_PREFIX = PREFIX + "seq:"  # counter per pool: submit order (FIFO policy, positions)
COSTS_PREFIX = PREFIX + "cost:"  # hash per pool: model -> moving average of GPU-seconds per job
STATS_PREFIX = PREFIX + "stats:"  # hash per pool: job outcomes, tokens, GPU-seconds, histograms
SERVICE_TIMES_PREFIX = PREFIX + "svc:"  # hash per pool: model -> moving average of wall seconds per job
ARQ_QUEUE_PREFIX = PREFIX + "arq:"  # the arq queue (zset) per pool
SCHEDULER_WAKE = PREFIX + "sched:wake"  # list: pushed when there may be work to dispatch
WORKER_WAKE_PREFIX = PREFIX + "wake:"  # list per pool: pushed when a job entered the arq queue

# --- workers -----------------------------------------------------------------------------------------
WORKERS_PREFIX = PREFIX + "workers:"  # zset per pool: worker id -> heartbeat deadline (ms)
WORKER_PREFIX = PREFIX + "worker:"  # hash per worker: pool, concurrency, models

ARQ_IN_PROGRESS_PREFIX = "arq:in-progress:"  # arq's own lock per running job (arq.constants)
ARQ_JOB_PREFIX = "arq:job:"  # arq's own job definitions (arq.constants)

# --- audit -------------------------------------------------------------------------------------------
AUDIT_STREAM = PREFIX + "audit"


def user(name: str) -> str:
    return USER_PREFIX + name


def token_uses(jti: str) -> str:
    return TOKEN_USES_PREFIX + jti


def revoked(jti: str) -> str:
    return REVOKED_PREFIX + jti


def rate(user_name: str, dimension: str) -> str:
    return f"{RATE_PREFIX}{dimension}:{user_name}"


def in_flight(user_name: str) -> str:
    return IN_FLIGHT_PREFIX + user_name


def ledger(user_name: str) -> str:
    return LEDGER_PREFIX + user_name


def job(job_id: str) -> str:
    return JOB_PREFIX + job_id


def events(job_id: str) -> str:
    return EVENTS_PREFIX + job_id


def user_queue(pool: str, user_name: str) -> str:
    return f"{USER_QUEUE_PREFIX}{pool}:{user_name}"


def ready(pool: str) -> str:
    return READY_PREFIX + pool


def vclock(pool: str) -> str:
    return VCLOCK_PREFIX + pool


def user_vtime(pool: str) -> str:
    return USER_VTIME_PREFIX + pool


def inflight(pool: str) -> str:
    return INFLIGHT_PREFIX + pool


def pool_waiting(pool: str) -> str:
    return POOL_WAITING_PREFIX + pool


def pool_seq(pool: str) -> str:
    return POOL_SEQ_PREFIX + pool


def costs(pool: str) -> str:
    return COSTS_PREFIX + pool


def stats(pool: str) -> str:
    return STATS_PREFIX + pool


def service_times(pool: str) -> str:
    return SERVICE_TIMES_PREFIX + pool


def arq_queue(pool: str) -> str:
    return ARQ_QUEUE_PREFIX + pool


def worker_wake(pool: str) -> str:
    return WORKER_WAKE_PREFIX + pool


def workers(pool: str) -> str:
    return WORKERS_PREFIX + pool


def worker(worker_id: str) -> str:
    return WORKER_PREFIX + worker_id
