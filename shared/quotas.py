"""Per-user quotas in every dimension, admitted and charged in one atomic step (`quota.lua`).

Dimensions: requests per window, tokens per window (prompt tokens + max_tokens reserved at admission,
settled to what the job used when it ends), GPU-seconds per hour and per day (charged when a job ends,
from metering; admission refuses while a window's budget is spent), and jobs in flight (queued or
running). Defaults come from settings; a user record's `limits` overrides any of them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from shared import keys
from shared.config import Settings
from shared.redis import Scripts
from shared.users import User

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
# Overrides a user record may carry, with the type each must have.
LIMIT_KEYS: dict[str, type] = {
    "rate_limit_requests": int,
    "rate_limit_window_s": int,
    "rate_limit_tokens": int,
    "gpu_seconds_per_hour": float,
    "gpu_seconds_per_day": float,
    "max_jobs_in_flight": int,
    "max_queued": int,
}
DIMENSIONS = ("requests", "tokens", "gpu_seconds_hour", "gpu_seconds_day", "jobs_in_flight")


def estimate_prompt_tokens(text: str) -> int:
    """A generous estimate of a prompt's tokens before any tokenizer sees it (about 4 bytes a token)."""
    return max(1, math.ceil(len(text.encode("utf-8", "surrogatepass")) / 4))


@dataclass(frozen=True, slots=True)
class QuotaLimits:
    """One user's limits."""

    requests: int
    window_s: int
    tokens: int
    gpu_seconds_hour: float
    gpu_seconds_day: float
    jobs_in_flight: int

    @classmethod
    def for_user(cls, user: User, settings: Settings) -> QuotaLimits:
        """The settings' defaults, with the user's own overrides."""
        limits = user.limits
        return cls(
            requests=int(limits.get("rate_limit_requests", settings.rate_limit_requests)),
            window_s=int(limits.get("rate_limit_window_s", settings.rate_limit_window_s)),
            tokens=int(limits.get("rate_limit_tokens", settings.rate_limit_tokens)),
            gpu_seconds_hour=float(limits.get("gpu_seconds_per_hour", settings.gpu_seconds_per_hour)),
            gpu_seconds_day=float(limits.get("gpu_seconds_per_day", settings.gpu_seconds_per_day)),
            jobs_in_flight=int(limits.get("max_jobs_in_flight", settings.max_jobs_in_flight)),
        )

    def job_fields(self, reserved_tokens: int) -> dict[str, str]:
        """What a job keeps so that its end can settle the reservation without reading settings."""
        window_ms = self.window_s * 1000
        return {
            "reserved_tokens": str(reserved_tokens),
            "tok_iv": repr(window_ms / self.tokens),
            "gh_iv": repr(HOUR_MS / self.gpu_seconds_hour),
            "gd_iv": repr(DAY_MS / self.gpu_seconds_day),
        }


@dataclass(frozen=True, slots=True)
class DimensionState:
    limit: float
    remaining: float


@dataclass(frozen=True, slots=True)
class QuotaDecision:
    """The outcome of one admission: allowed or not, which dimension bound it, and every dimension's state."""

    allowed: bool
    binding: str | None
    retry_after_s: float
    dimensions: dict[str, DimensionState]

    def headers(self) -> dict[str, str]:
        """`X-RateLimit-Limit-<Dimension>` and `X-RateLimit-Remaining-<Dimension>` for each dimension."""
        headers: dict[str, str] = {}
        for name, state in self.dimensions.items():
            title = "-".join(part.capitalize() for part in name.split("_"))
            headers[f"X-RateLimit-Limit-{title}"] = _number(state.limit)
            headers[f"X-RateLimit-Remaining-{title}"] = _number(state.remaining)
        return headers


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


class Quotas:
    """Admits, releases and reports per-user quotas."""

    def __init__(self, redis: Redis, scripts: Scripts, *, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.scripts = scripts
        self.clock = clock

    @staticmethod
    def _keys(user: str) -> list[str]:
        return [
            keys.rate(user, "requests"),
            keys.rate(user, "tokens"),
            keys.rate(user, "gpu_hour"),
            keys.rate(user, "gpu_day"),
            keys.in_flight(user),
            keys.ledger(user),
        ]

    def _args(
        self, mode: str, job_id: str, limits: QuotaLimits, tokens: int, deadline_s: float
    ) -> list[str | int | float]:
        now_ms = self.clock() * 1000
        window_ms = limits.window_s * 1000
        return [
            mode,
            repr(now_ms),
            job_id,
            repr(now_ms + deadline_s * 1000),
            limits.requests,
            window_ms,
            limits.tokens,
            window_ms,
            tokens,
            repr(limits.gpu_seconds_hour),
            repr(limits.gpu_seconds_day),
            limits.jobs_in_flight,
        ]

    async def admit(
        self, user: str, job_id: str, limits: QuotaLimits, *, tokens: int, deadline_s: float
    ) -> QuotaDecision:
        """Charge one request, reserve `tokens` and take an in-flight slot for `job_id`, or charge nothing."""
        result = await self.scripts.quota(
            keys=self._keys(user), args=self._args("admit", job_id, limits, tokens, deadline_s)
        )
        allowed, binding, wait_ms = int(result[0]), str(result[1]), int(result[2])
        values = [float(value) for value in result[3:]]
        dimensions = {
            name: DimensionState(limit=values[2 * i], remaining=values[2 * i + 1])
            for i, name in enumerate(DIMENSIONS)
        }
        return QuotaDecision(bool(allowed), binding or None, wait_ms / 1000, dimensions)

    async def release(self, user: str, job_id: str, limits: QuotaLimits, *, tokens: int) -> None:
        """Undo an admission's reservation and slot (the request itself stays charged)."""
        await self.scripts.quota(keys=self._keys(user), args=self._args("release", job_id, limits, tokens, 0))

    async def usage(self, user: str, limits: QuotaLimits) -> dict[str, object]:
        """Current use and limits per dimension, and the totals charged so far."""
        now_ms = self.clock() * 1000
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in self._keys(user)[:4]:
                pipe.get(key)
            pipe.zcount(keys.in_flight(user), now_ms, "+inf")
            pipe.hgetall(keys.ledger(user))
            req, tok, hour, day, flying, ledger = await pipe.execute()
        window_ms = limits.window_s * 1000

        def used(tat: str | None, period_ms: float, limit: float) -> float:
            ahead = max(0.0, float(tat or 0) - now_ms)
            return min(limit, ahead * limit / period_ms)

        def dimension(limit: float, tat: str | None, period_ms: float) -> dict[str, float]:
            spent = used(tat, period_ms, limit)
            return {
                "limit": limit,
                "used": round(spent, 3),
                "remaining": round(max(0.0, limit - spent), 3),
                "window_s": period_ms / 1000,
            }

        return {
            "user": user,
            "limits": {
                "requests": dimension(limits.requests, req, window_ms),
                "tokens": dimension(limits.tokens, tok, window_ms),
                "gpu_seconds_hour": dimension(limits.gpu_seconds_hour, hour, HOUR_MS),
                "gpu_seconds_day": dimension(limits.gpu_seconds_day, day, DAY_MS),
                "jobs_in_flight": {
                    "limit": limits.jobs_in_flight,
                    "used": int(flying),
                    "remaining": max(0, limits.jobs_in_flight - int(flying)),
                },
            },
            "totals": {
                "requests": int(ledger.get("requests", 0)),
                "tokens": int(ledger.get("tokens", 0)),
                "gpu_seconds": round(float(ledger.get("gpu_seconds", 0.0)), 6),
            },
        }
