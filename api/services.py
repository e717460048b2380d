"""Everything one API process holds for its lifetime, built once at start-up."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from dataclasses import dataclass, field

from redis.asyncio import Redis

from api.middleware import ShedCounter
from api.waiter import CompletionWaiter
from shared.audit import AuditLog, AuditUnavailable, new_writer_id, open_sink
from shared.catalog import Catalog
from shared.config import Settings
from shared.firewall import Firewall
from shared.firewall.cache import VerdictCache
from shared.jobs import JobStore
from shared.passwords import PasswordService
from shared.pools import PoolMonitor
from shared.quotas import Quotas
from shared.ratelimit import RateLimiter
from shared.redis import Scripts, connect
from shared.tokens import TokenService
from shared.users import UserStore


@dataclass
class Services:
    settings: Settings
    catalog: Catalog
    redis: Redis
    scripts: Scripts
    jobs: JobStore
    users: UserStore
    tokens: TokenService
    passwords: PasswordService
    limiter: RateLimiter
    quotas: Quotas
    audit: AuditLog
    firewall: Firewall
    pools: PoolMonitor
    waiter: CompletionWaiter
    prompt_salt: bytes
    sheds: ShedCounter = field(default_factory=ShedCounter)
    verdicts: VerdictCache = field(default_factory=VerdictCache)  # the firewall's, per user

    async def audit_sheds_forever(self, interval_s: float = 1.0) -> None:
        """One audit record per path and interval for the requests shed by the admission bound."""
        while True:
            await asyncio.sleep(interval_s)
            for path, count in self.sheds.drain().items():
                record = self.audit.build(
                    action="admission",
                    resource=path,
                    decision="deny",
                    step="admission",
                    reason="shed",
                    status=503,
                    count=count,
                )
                # When Redis is down, write() has already logged the record locally.
                with contextlib.suppress(AuditUnavailable):
                    await self.audit.write(record)

    async def close(self) -> None:
        await self.waiter.stop()
        await self.audit.close()
        await self.redis.aclose()


def build_services(settings: Settings, catalog: Catalog) -> Services:
    """Wire the services from settings (no I/O yet; `waiter.start()` connects)."""
    secret = settings.require_secret_key()
    writer = new_writer_id("api")
    redis = connect(settings.redis_url)
    scripts = Scripts(redis)
    return Services(
        settings=settings,
        catalog=catalog,
        redis=redis,
        scripts=scripts,
        jobs=JobStore(redis, scripts, result_ttl_s=settings.result_ttl_s, policy=settings.queue_policy),
        users=UserStore(redis),
        tokens=TokenService(
            secret,
            previous_keys=[key.get_secret_value() for key in settings.previous_secret_keys],
            issuer=settings.token_issuer,
            user_ttl=settings.user_token_ttl,
            llm_ttl=settings.llm_token_ttl,
        ),
        passwords=PasswordService(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost,
            parallelism=settings.argon2_parallelism,
            max_concurrent=settings.argon2_max_concurrent,
            max_waiting=settings.argon2_max_waiting,
        ),
        limiter=RateLimiter(redis, scripts),
        quotas=Quotas(redis, scripts),
        audit=AuditLog(
            redis,
            settings.require_audit_key(),
            writer=writer,
            sink=open_sink(settings.audit_sink, writer),
            fsync_s=settings.audit_fsync_s,
        ),
        firewall=Firewall(settings.firewall_rules(), semantic=settings.firewall_semantic),
        pools=PoolMonitor(redis),
        waiter=CompletionWaiter(redis),
        prompt_salt=hashlib.sha256(b"secureai audit prompt salt:" + secret.encode()).digest(),
    )
