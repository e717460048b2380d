"""Dependencies routes declare in their signatures: what they need, and who is asking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header
from starlette.requests import HTTPConnection

from api.gate import RequestContext, authenticate_user
from api.services import Services
from api.streaming import EventStreams
from shared.tokens import UserClaims
from shared.users import User


# Every dependency is `async def`: FastAPI runs a plain `def` one in a worker thread, a hop per request.
# HTTPConnection rather than Request: websocket routes declare the same dependencies.
async def get_services(connection: HTTPConnection) -> Services:
    services: Services = connection.app.state.services
    return services


async def get_streams(connection: HTTPConnection) -> EventStreams:
    streams: EventStreams = connection.app.state.streams
    return streams


async def request_context(connection: HTTPConnection) -> RequestContext:
    route = connection.scope.get("route")
    return RequestContext(
        request_id=connection.scope.get("state", {}).get("request_id", ""),
        client=connection.client.host if connection.client else "unknown",
        action=getattr(route, "name", None) or connection.url.path,
        resource=connection.url.path,
    )


async def bearer_token(authorization: Annotated[str | None, Header()] = None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def llm_token(x_llm_token: Annotated[str | None, Header()] = None) -> str | None:
    """The scoped token of the `X-LLM-Token` header."""
    return x_llm_token.strip() if x_llm_token else None


ServicesDep = Annotated[Services, Depends(get_services)]
StreamsDep = Annotated[EventStreams, Depends(get_streams)]
Context = Annotated[RequestContext, Depends(request_context)]
BearerToken = Annotated[str | None, Depends(bearer_token)]
LLMToken = Annotated[str | None, Depends(llm_token)]


async def any_token(bearer: BearerToken, llm: LLMToken) -> str | None:
    """`Authorization: Bearer`, else `X-LLM-Token`: compatible clients can set only the former."""
    return bearer or llm


AnyToken = Annotated[str | None, Depends(any_token)]


@dataclass(frozen=True, slots=True)
class AuthenticatedUser:
    user: User
    claims: UserClaims


async def current_user(services: ServicesDep, ctx: Context, token: BearerToken) -> AuthenticatedUser:
    user, claims = await authenticate_user(services, ctx, token)
    return AuthenticatedUser(user, claims)


CurrentUser = Annotated[AuthenticatedUser, Depends(current_user)]
