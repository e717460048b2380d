"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from redis.exceptions import RedisError

from api.deps import ServicesDep
from api.responses import JSONBody
from shared.pools import read_pool

router = APIRouter(tags=["health"])


@router.get("/healthz", name="health.live")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", name="health.ready")
async def readyz(services: ServicesDep) -> JSONBody:
    try:
        await asyncio.wait_for(services.redis.ping(), timeout=2.0)
        pools = [await read_pool(services.redis, pool) for pool in services.catalog.pool_names()]
    except (RedisError, OSError, TimeoutError):
        return JSONBody({"status": "unavailable", "redis": "down"}, status_code=503)
    down = [health.pool for health in pools if health.workers == 0]
    body = {
        "status": "ready" if not down else "degraded",
        "redis": "ok",
        "pools": {
            h.pool: {"workers": h.workers, "slots": h.slots, "models": sorted(h.models)} for h in pools
        },
        "pools_down": down,
    }
    return JSONBody(body, status_code=200 if not down else 503)
