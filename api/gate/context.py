"""The request context every gate decision is recorded with, and the one way decisions are audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.metrics import GATE_DECISIONS, REDIS_ERRORS
from api.services import Services
from shared.audit import AuditUnavailable
from shared.errors import GatewayError, ServiceUnavailable


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who is asking, from where, for what."""

    request_id: str
    client: str
    action: str
    resource: str


async def record(
    services: Services,
    ctx: RequestContext,
    *,
    decision: str,
    step: str,
    reason: str,
    status: int,
    **fields: Any,
) -> None:
    """Write one audit record for a decision; a record that cannot be written turns it into a 503."""
    entry = services.audit.build(
        request_id=ctx.request_id,
        client=ctx.client,
        action=ctx.action,
        resource=ctx.resource,
        decision=decision,
        step=step,
        reason=reason,
        status=status,
        **fields,
    )
    GATE_DECISIONS.labels(ctx.action, step, decision).inc()
    try:
        await services.audit.write(entry)
    except AuditUnavailable:
        raise ServiceUnavailable(
            "audit trail unavailable; request refused", code="audit_unavailable"
        ) from None


async def deny(
    services: Services, ctx: RequestContext, step: str, error: GatewayError, **fields: Any
) -> None:
    """Record a refusal (then the caller re-raises `error`)."""
    await record(
        services,
        ctx,
        decision="deny",
        step=step,
        reason=error.code,
        status=error.status,
        detail=error.internal or error.message,
        **fields,
    )


def record_unreachable(
    services: Services, ctx: RequestContext, step: str, **fields: Any
) -> ServiceUnavailable:
    """Log a fail-closed refusal locally when Redis is down; returns the error to raise."""
    REDIS_ERRORS.inc()
    GATE_DECISIONS.labels(ctx.action, step, "deny").inc()
    services.audit.write_local(
        services.audit.build(
            request_id=ctx.request_id,
            client=ctx.client,
            action=ctx.action,
            resource=ctx.resource,
            decision="deny",
            step=step,
            reason="redis_unavailable",
            status=503,
            **fields,
        )
    )
    return ServiceUnavailable("a required service is unavailable; request refused", code="unavailable")
