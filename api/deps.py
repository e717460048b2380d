"""Dependencies routes declare in their signatures: what they need, and who is asking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from api.gate import RequestContext, authenticate_user
from api.services import Services
from shared.tokens import UserClaims
from shared.users import User


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def request_context(request: Request) -> RequestContext:
    route = request.scope.get("route")
    return RequestContext(
        request_id=request.scope.get("state", {}).get("request_id", ""),
        client=request.client.host if request.client else "unknown",
        action=getattr(route, "name", None) or request.url.path,
        resource=request.url.path,
    )


def bearer_token(authorization: Annotated[str | None, Header()] = None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def llm_token(x_llm_token: Annotated[str | None, Header()] = None) -> str | None:
    """The scoped token of the `X-LLM-Token` header."""
    return x_llm_token.strip() if x_llm_token else None


ServicesDep = Annotated[Services, Depends(get_services)]
Context = Annotated[RequestContext, Depends(request_context)]
BearerToken = Annotated[str | None, Depends(bearer_token)]
LLMToken = Annotated[str | None, Depends(llm_token)]


@dataclass(frozen=True, slots=True)
class AuthenticatedUser:
    user: User
    claims: UserClaims


async def current_user(services: ServicesDep, ctx: Context, token: BearerToken) -> AuthenticatedUser:
    user, claims = await authenticate_user(services, ctx, token)
    return AuthenticatedUser(user, claims)


CurrentUser = Annotated[AuthenticatedUser, Depends(current_user)]
