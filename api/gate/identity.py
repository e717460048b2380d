"""Identity decisions: logins, user-token checks, scoped-token minting and logout. Each is audited."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt
from redis.exceptions import RedisError

from api.gate.context import RequestContext, deny, record, record_unreachable
from api.services import Services
from shared import keys
from shared.errors import (
    BadRequest,
    Forbidden,
    GatewayError,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from shared.passwords import Overloaded
from shared.tokens import LLM_TYP, InvalidToken, LLMClaims, UserClaims
from shared.users import User, parse_user

BAD_LOGIN = "invalid username or password"
LOGIN_WINDOW_S = 60


async def login(
    services: Services, ctx: RequestContext, username: str, password: str
) -> tuple[str, UserClaims]:
    """Check a password and issue a user token."""
    step = "throttle"
    name = username.strip().lower()
    try:
        await _throttle_login(services, name, ctx.client)
        step = "password"
        user = await services.users.get(name)
        try:
            ok = await services.passwords.verify(user.password_hash if user else None, password)
        except Overloaded:
            raise ServiceUnavailable(
                "too many logins in progress; retry shortly", code="busy", headers={"Retry-After": "1"}
            ) from None
        if not ok or user is None:
            raise Unauthorized(BAD_LOGIN, code="invalid_credentials")
        if user.disabled:
            # Same answer as a bad password: a disabled account is not confirmed to exist.
            raise Unauthorized(BAD_LOGIN, code="invalid_credentials")
        if services.passwords.needs_rehash(user.password_hash):
            await services.users.set_password_hash(
                user.name, await services.passwords.hash(password), end_sessions=False
            )
        token, claims = services.tokens.issue_user(user.name, version=user.token_version)
        await record(
            services, ctx, decision="allow", step="password", reason="ok", status=200, user=user.name
        )
        return token, claims
    except GatewayError as error:
        await deny(services, ctx, step, error, user=name)
        raise
    except (RedisError, OSError):
        raise record_unreachable(services, ctx, step, user=name) from None


async def _throttle_login(services: Services, name: str, client: str) -> None:
    settings = services.settings
    for subject, limit in ((f"login-user:{name}", settings.login_attempts_per_user),
                           (f"login-client:{client}", settings.login_attempts_per_client)):  # fmt: skip
        decision = await services.limiter.hit(subject, "login", limit=limit, period_s=LOGIN_WINDOW_S)
        if not decision.allowed:
            raise TooManyRequests(
                "too many login attempts; retry later",
                code="login_throttled",
                retry_after=decision.retry_after_s,
            )


async def authenticate_user(
    services: Services, ctx: RequestContext, token: str | None
) -> tuple[User, UserClaims]:
    """The user behind a user token; 401 for anything but a live token of an active user."""
    try:
        return await _user_from_token(services, token)
    except GatewayError as error:
        await deny(services, ctx, "token_integrity", error)
        raise
    except (RedisError, OSError):
        raise record_unreachable(services, ctx, "token_integrity") from None


async def _user_from_token(services: Services, token: str | None) -> tuple[User, UserClaims]:
    if not token:
        raise Unauthorized("missing bearer token", code="missing_token")
    try:
        claims = services.tokens.verify_user(token)
    except InvalidToken as exc:
        raise Unauthorized(exc.public, code="invalid_token", internal=exc.reason) from None
    async with services.redis.pipeline(transaction=False) as pipe:
        pipe.exists(keys.revoked(claims.jti))
        pipe.hgetall(keys.user(claims.sub))
        revoked, raw = await pipe.execute()
    user = parse_user(claims.sub, raw) if raw else None
    if revoked or user is None or not user.token_alive(claims.version):
        raise Unauthorized(
            "token revoked or user inactive", code="invalid_token", internal="revoked or inactive"
        )
    return user, claims


async def _reader_from_llm_token(services: Services, token: str) -> tuple[User, frozenset[str]]:
    try:
        claims = services.tokens.verify_llm(token)
    except InvalidToken as exc:
        raise Unauthorized(exc.public, code="invalid_token", internal=exc.reason) from None
    raw = await services.redis.hgetall(keys.user(claims.sub))
    user = parse_user(claims.sub, raw) if raw else None
    if user is None or not user.token_alive(claims.version):
        raise Unauthorized("token revoked or user inactive", code="invalid_token", internal="user inactive")
    return user, frozenset(claims.scopes) & user.scopes


async def mint_scoped_token(
    services: Services,
    ctx: RequestContext,
    user: User,
    *,
    model: str,
    max_tokens: int,
    scopes: list[str] | None,
    uses: int,
) -> tuple[str, LLMClaims]:
    """A scoped LLM token, never granting more than the user holds."""
    step = "least_privilege"
    try:
        spec = services.catalog.get(model)
        if spec is None:
            raise NotFound(f"unknown model {model}", code="model_not_found")
        if not user.allows_model(model):
            raise Forbidden(f"user may not use model {model}", code="model_not_allowed")
        wanted = set(scopes) if scopes is not None else {"llm:generate", "jobs:read"} & user.scopes
        missing = wanted - user.scopes
        if missing:
            raise Forbidden(f"scopes not held: {', '.join(sorted(missing))}", code="scope_not_allowed")
        if "llm:generate" not in wanted:
            raise BadRequest("a scoped token needs the llm:generate scope", code="invalid_scopes")
        step = "budget"
        if max_tokens > spec.max_tokens:
            raise BadRequest(
                f"max_tokens {max_tokens} exceeds model {model}'s cap of {spec.max_tokens}",
                code="max_tokens_too_large",
            )
        if max_tokens > user.max_tokens:
            raise Forbidden(f"max_tokens above the user's limit of {user.max_tokens}", code="budget_exceeded")
        if uses > min(user.max_uses, services.settings.max_token_uses):
            raise Forbidden(f"uses above the user's limit of {user.max_uses}", code="uses_exceeded")
        token, claims = services.tokens.issue_llm(
            user.name,
            model=model,
            max_tokens=max_tokens,
            scopes=sorted(wanted),
            uses=uses,
            version=user.token_version,
        )
        await record(
            services,
            ctx,
            decision="allow",
            step="mint",
            reason="ok",
            status=200,
            user=user.name,
            model=model,
            requested_tokens=max_tokens,
            uses=uses,
        )
        return token, claims
    except GatewayError as error:
        await deny(services, ctx, step, error, user=user.name, model=model, requested_tokens=max_tokens)
        raise
    except (RedisError, OSError):
        raise record_unreachable(services, ctx, step, user=user.name) from None


async def logout(services: Services, ctx: RequestContext, user: User, claims: UserClaims) -> None:
    """Revoke a user token until it would have expired anyway."""
    try:
        ttl = max(1, claims.exp - int(time.time()) + 5)
        await services.redis.set(keys.revoked(claims.jti), "1", ex=ttl)
        await record(services, ctx, decision="allow", step="logout", reason="ok", status=204, user=user.name)
    except (RedisError, OSError):
        raise record_unreachable(services, ctx, "logout", user=user.name) from None


@dataclass(frozen=True, slots=True)
class Principal:
    """Whoever presented a valid token of either kind, with the scopes that token grants now."""

    user: User
    scopes: frozenset[str]
    token_kind: str


async def authenticate_principal(
    services: Services, ctx: RequestContext, token: str | None, *, scope: str
) -> Principal:
    """Accept a user token or a scoped token (without spending one of its uses) holding `scope`."""
    step = "token_integrity"
    try:
        if not token:
            raise Unauthorized("missing bearer token", code="missing_token")
        kind = token_kind(token)
        if kind == "user":
            user, _ = await _user_from_token(services, token)
            scopes = user.scopes
        else:
            user, scopes = await _reader_from_llm_token(services, token)
        step = "least_privilege"
        if scope not in scopes:
            raise Forbidden(f"the {scope} scope is required", code="scope_missing")
        return Principal(user=user, scopes=scopes, token_kind=kind)
    except GatewayError as error:
        await deny(services, ctx, step, error)
        raise
    except (RedisError, OSError):
        raise record_unreachable(services, ctx, step) from None


def token_kind(token: str) -> str:
    """`user` or `llm`, from the token's declared type (verified afterwards, never trusted alone)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        return "user"  # verify_user will refuse it with the right reason
    return "llm" if header.get("typ") == LLM_TYP else "user"
