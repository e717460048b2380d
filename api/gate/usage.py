"""Reading quotas and usage, and (for admins) setting a user's limits. Each decision is audited."""

from __future__ import annotations

from typing import Any

import orjson
from redis.exceptions import RedisError

from api.gate.context import RequestContext, deny, record, record_unreachable
from api.gate.identity import authenticate_principal
from api.services import Services
from shared import keys
from shared.errors import BadRequest, Forbidden, GatewayError, NotFound
from shared.quotas import LIMIT_KEYS, QuotaLimits
from shared.users import valid_username

ADMIN_SCOPE = "admin:users"


async def read_usage(
    services: Services, ctx: RequestContext, token: str | None, name: str | None
) -> dict[str, Any]:
    """The caller's own usage, or (with `admin:users`) anyone's."""
    principal = await authenticate_principal(services, ctx, token, scope="jobs:read")
    target = name or principal.user.name
    step = "least_privilege"
    try:
        if target != principal.user.name and ADMIN_SCOPE not in principal.scopes:
            raise Forbidden(
                f"reading another user's usage needs the {ADMIN_SCOPE} scope", code="scope_missing"
            )
        user = principal.user if target == principal.user.name else await services.users.get(target)
        if user is None:
            raise NotFound("no such user", code="user_not_found")
        usage = await services.quotas.usage(user.name, QuotaLimits.for_user(user, services.settings))
        await record(services, ctx, decision="allow", step=step, reason="ok", status=200,
                     user=principal.user.name, target=user.name)  # fmt: skip
        return usage
    except GatewayError as error:
        await deny(services, ctx, step, error, user=principal.user.name, target=target[:64])
        raise
    except (RedisError, OSError):
        raise record_unreachable(services, ctx, step, user=principal.user.name) from None


async def set_limits(
    services: Services, ctx: RequestContext, token: str | None, name: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Set (a value) or clear (null) a user's limit overrides; needs `admin:users`."""
    principal = await authenticate_principal(services, ctx, token, scope=ADMIN_SCOPE)
    step = "validate"
    try:
        if not valid_username(name):
            raise NotFound("no such user", code="user_not_found")
        unknown = set(changes) - set(LIMIT_KEYS)
        if unknown:
            raise BadRequest(f"unknown limits: {', '.join(sorted(unknown))}", code="invalid_limits")
        for key, value in changes.items():
            kind = LIMIT_KEYS[key]
            valid = value is None or (
                isinstance(value, int | float) and not isinstance(value, bool) and value > 0
                and (kind is float or float(value).is_integer())
            )  # fmt: skip
            if not valid:
                raise BadRequest(f"{key} must be a positive {kind.__name__} or null", code="invalid_limits")
        user = await services.users.get(name)
        if user is None:
            raise NotFound("no such user", code="user_not_found")
        limits = {**user.limits}
        for key, value in changes.items():
            if value is None:
                limits.pop(key, None)
            else:
                limits[key] = LIMIT_KEYS[key](value)
        await services.redis.hset(keys.user(name), "limits", orjson.dumps(limits).decode())
        await record(services, ctx, decision="allow", step="set_limits", reason="ok", status=200,
                     user=principal.user.name, target=name, limits=limits)  # fmt: skip
        return {"user": name, "limits": limits}
    except GatewayError as error:
        await deny(services, ctx, step, error, user=principal.user.name, target=name[:64])
        raise
    except (RedisError, OSError):
        raise record_unreachable(services, ctx, step, user=principal.user.name) from None
