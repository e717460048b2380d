"""`/auth`: log in, mint scoped LLM tokens, log out."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api import gate
from api.deps import Context, CurrentUser, ServicesDep
from api.schemas import LoginBody, LoginResponse, ScopedTokenBody, ScopedTokenResponse

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", name="auth.login")
async def login(body: LoginBody, services: ServicesDep, ctx: Context) -> LoginResponse:
    token, claims = await gate.login(services, ctx, body.username, body.password)
    return LoginResponse(access_token=token, expires_in=claims.exp - claims.iat)


@router.post("/scoped-token", name="auth.scoped_token")
async def scoped_token(
    body: ScopedTokenBody, services: ServicesDep, ctx: Context, current: CurrentUser
) -> ScopedTokenResponse:
    token, claims = await gate.mint_scoped_token(
        services,
        ctx,
        current.user,
        model=body.model,
        max_tokens=body.max_tokens,
        scopes=body.scopes,
        uses=body.uses,
    )
    return ScopedTokenResponse(
        llm_token=token,
        expires_in=claims.exp - claims.iat,
        model=claims.model,
        max_tokens=claims.max_tokens,
        scopes=list(claims.scopes),
        uses=claims.uses,
    )


@router.post("/logout", name="auth.logout", status_code=204)
async def logout(services: ServicesDep, ctx: Context, current: CurrentUser) -> Response:
    await gate.logout(services, ctx, current.user, current.claims)
    return Response(status_code=204)
