"""Liveness and readiness."""

from __future__ import annotations

import asyncio
import hmac
from typing import Annotated

from fastapi import APIRouter, Header, Response
from prometheus_client import CONTENT_TYPE_LATEST
from redis.exceptions import RedisError

from api.deps import ServicesDep
from api.metrics import REDIS_ERRORS, cluster_snapshot, render
from api.responses import JSONBody
from shared.errors import Unauthorized
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


@router.get("/metrics", name="health.metrics", include_in_schema=False)
async def metrics(services: ServicesDep, authorization: Annotated[str | None, Header()] = None) -> Response:
    expected = services.settings.metrics_token
    if expected is not None and not hmac.compare_digest(
        (authorization or "").encode(), f"Bearer {expected.get_secret_value()}".encode()
    ):
        raise Unauthorized("metrics need the metrics token", code="invalid_token")
    try:
        snapshot = await asyncio.wait_for(
            cluster_snapshot(services.redis, services.catalog.pool_names()), 5.0
        )
    except (RedisError, OSError, TimeoutError):
        REDIS_ERRORS.inc()
        snapshot = None
    return Response(render(snapshot), media_type=CONTENT_TYPE_LATEST)
