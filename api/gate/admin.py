"""Reading the audit trail over HTTP: holders of `admin:audit` only, and the reading is audited too."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from redis.exceptions import RedisError

from api.gate.context import RequestContext, deny, record, record_unreachable
from api.gate.identity import authenticate_principal
from api.services import Services
from shared import keys
from shared.errors import BadRequest, GatewayError

AUDIT_SCOPE = "admin:audit"
MAX_PAGE = 500
SCAN_LIMIT = 20_000  # records examined per call at most; the cursor continues from there
MAX_TIME_MS = 253_402_300_799_999  # the end of year 9999
_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


@dataclass(frozen=True)
class AuditQuery:
    user: str | None = None
    action: str | None = None
    decision: str | None = None
    since: str | None = None
    until: str | None = None
    limit: int = 100
    cursor: str | None = None


def _to_ms(value: str, name: str) -> int:
    milliseconds: float | None
    try:
        milliseconds = float(value) * 1000
    except ValueError:
        try:
            milliseconds = datetime.fromisoformat(value).timestamp() * 1000
        except (ValueError, OverflowError, OSError):
            milliseconds = None
    # Stream ids start at 0 and fit in 64 bits; inf, NaN and times before 1970 are no time to look at.
    if milliseconds is None or not 0 <= milliseconds <= MAX_TIME_MS:
        raise BadRequest(f"{name} must be epoch seconds or an ISO 8601 time", code="invalid_query")
    return int(milliseconds)


async def read_audit(
    services: Services, ctx: RequestContext, token: str | None, query: AuditQuery
) -> dict[str, Any]:
    """A page of audit records, newest first, matching the filters."""
    principal = await authenticate_principal(services, ctx, token, scope=AUDIT_SCOPE)
    step = "query"
    try:
        if not 1 <= query.limit <= MAX_PAGE:
            raise BadRequest(f"limit must be 1..{MAX_PAGE}", code="invalid_query")
        if query.cursor is not None and not _STREAM_ID.fullmatch(query.cursor):
            raise BadRequest("cursor is not a cursor this API returned", code="invalid_query")
        upper = f"({query.cursor}" if query.cursor else "+"
        if query.until is not None and not query.cursor:
            upper = str(_to_ms(query.until, "until"))
        lower = str(_to_ms(query.since, "since")) if query.since is not None else "-"
        wanted = {"user": query.user, "action": query.action, "decision": query.decision}
        found: list[dict[str, Any]] = []
        scanned, next_cursor = 0, None
        while len(found) < query.limit and scanned < SCAN_LIMIT:
            page = await services.redis.xrevrange(keys.AUDIT_STREAM, max=upper, min=lower, count=500)
            if not page:
                next_cursor = None
                break
            for entry_id, fields in page:
                scanned += 1
                next_cursor = entry_id
                entry = orjson.loads(fields["r"])
                if all(value is None or entry.get(name) == value for name, value in wanted.items()):
                    found.append({"id": entry_id, **entry})
                    if len(found) == query.limit:
                        break
            upper = f"({next_cursor}"
            if len(page) < 500 and len(found) < query.limit:
                next_cursor = None
                break
        await record(services, ctx, decision="allow", step="audit_read", reason="ok", status=200,
                     user=principal.user.name, returned=len(found))  # fmt: skip
        return {"records": found, "next_cursor": next_cursor}
    except GatewayError as error:
        await deny(services, ctx, step, error, user=principal.user.name)
        raise
    except (RedisError, OSError):
        raise record_unreachable(services, ctx, step, user=principal.user.name) from None
