"""The zero-trust gate: every security decision of the API is made here, and each one is audited."""

from api.gate.context import RequestContext
from api.gate.identity import authenticate_user, login, logout, mint_scoped_token
from api.gate.llm import Admitted, verify_request

__all__ = [
    "Admitted",
    "RequestContext",
    "authenticate_user",
    "login",
    "logout",
    "mint_scoped_token",
    "verify_request",
]
