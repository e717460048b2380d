"""`/api/v1/usage`: a user's quotas and what they have used; admins read and set anyone's limits."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from api.deps import BearerToken, Context, LLMToken, ServicesDep
from api.gate.usage import read_usage, set_limits

router = APIRouter(prefix="/api/v1/usage", tags=["usage"])


@router.get("", name="usage.read_own")
async def own_usage(
    services: ServicesDep, ctx: Context, bearer: BearerToken, llm: LLMToken
) -> dict[str, Any]:
    return await read_usage(services, ctx, bearer or llm, None)


@router.get("/{name}", name="usage.read")
async def user_usage(
    name: str, services: ServicesDep, ctx: Context, bearer: BearerToken, llm: LLMToken
) -> dict[str, Any]:
    return await read_usage(services, ctx, bearer or llm, name)


@router.put("/{name}/limits", name="usage.set_limits")
async def put_limits(
    name: str,
    services: ServicesDep,
    ctx: Context,
    bearer: BearerToken,
    changes: dict[str, float | int | None] = Body(..., max_length=16),  # noqa: B008
) -> dict[str, Any]:
    return await set_limits(services, ctx, bearer, name, changes)
