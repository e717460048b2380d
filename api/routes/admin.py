"""`/api/v1/admin`: operators' views."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import BearerToken, Context, ServicesDep
from api.gate.admin import AuditQuery, read_audit

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


@router.get("/audit", name="admin.audit")
async def audit(
    services: ServicesDep,
    ctx: Context,
    bearer: BearerToken,
    user: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    decision: Annotated[str | None, Query(max_length=32)] = None,
    since: Annotated[str | None, Query(max_length=40, description="epoch seconds or ISO 8601")] = None,
    until: Annotated[str | None, Query(max_length=40, description="epoch seconds or ISO 8601")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[
        str | None, Query(max_length=48, description="next_cursor of the previous page")
    ] = None,
) -> dict[str, Any]:
    query = AuditQuery(user, action, decision, since, until, limit, cursor)
    return await read_audit(services, ctx, bearer, query)
