"""The two kinds of JWT the gateway issues, validated so that neither can pass for the other.

* user tokens (`typ` `secureai-user+jwt`, audience `secureai:user`, 15 minutes) prove a login;
* scoped LLM tokens (`typ` `secureai-llm+jwt`, audience `secureai:llm`, 60 seconds) authorize a few
  requests to one model with a max_tokens budget and scopes.

Only HS256 is accepted, every registered claim is required, the leeway is two seconds, and the `kid`
header selects among the current and previous keys so keys can be rotated without logging anyone out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

ALGORITHM = "HS256"
USER_TYP = "secureai-user+jwt"
LLM_TYP = "secureai-llm+jwt"
USER_AUDIENCE = "secureai:user"
LLM_AUDIENCE = "secureai:llm"
LEEWAY_S = 2
REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti", "aud", "iss"]


class InvalidToken(Exception):
    """The token must not be trusted; `reason` is for the audit log, not for the client."""

    def __init__(self, reason: str, public: str = "invalid token") -> None:
        super().__init__(reason)
        self.reason = reason
        self.public = public


@dataclass(frozen=True, slots=True)
class UserClaims:
    sub: str
    jti: str
    iat: int
    exp: int
    version: int


@dataclass(frozen=True, slots=True)
class LLMClaims:
    sub: str
    jti: str
    iat: int
    exp: int
    version: int
    model: str
    max_tokens: int
    scopes: tuple[str, ...]
    uses: int


def key_id(key: bytes) -> str:
    """A public identifier for a signing key that reveals nothing about it."""
    return hmac.new(key, b"secureai key id", hashlib.sha256).hexdigest()[:16]


class TokenService:
    """Issues and verifies both token kinds."""

    def __init__(
        self,
        signing_key: str,
        *,
        previous_keys: list[str] | tuple[str, ...] = (),
        issuer: str = "secureai",
        user_ttl: int = 900,
        llm_ttl: int = 60,
    ) -> None:
        current = signing_key.encode()
        self._signing_kid = key_id(current)
        self._signing_key = current
        self._keys = {self._signing_kid: current}
        for old in previous_keys:
            raw = old.encode()
            self._keys.setdefault(key_id(raw), raw)
        self.issuer = issuer
        self.user_ttl = user_ttl
        self.llm_ttl = llm_ttl

    # --- issuing -------------------------------------------------------------------------------------
    def issue_user(self, sub: str, *, version: int = 0, now: float | None = None) -> tuple[str, UserClaims]:
        """A user token for `sub` (`version`: the user's token version, see `shared.users`)."""
        iat = int(now if now is not None else time.time())
        claims = UserClaims(
            sub=sub, jti=secrets.token_urlsafe(16), iat=iat, exp=iat + self.user_ttl, version=version
        )
        payload = {
            "sub": sub,
            "jti": claims.jti,
            "iat": iat,
            "nbf": iat,
            "exp": claims.exp,
            "ver": version,
            "aud": USER_AUDIENCE,
            "iss": self.issuer,
        }
        return self._encode(payload, USER_TYP), claims

    def issue_llm(
        self,
        sub: str,
        *,
        model: str,
        max_tokens: int,
        scopes: list[str] | tuple[str, ...],
        uses: int,
        version: int = 0,
        now: float | None = None,
    ) -> tuple[str, LLMClaims]:
        """A scoped LLM token for `sub`, bound to one model, a budget, scopes and a number of uses."""
        iat = int(now if now is not None else time.time())
        claims = LLMClaims(
            sub=sub,
            jti=secrets.token_urlsafe(16),
            iat=iat,
            exp=iat + self.llm_ttl,
            version=version,
            model=model,
            max_tokens=max_tokens,
            scopes=tuple(scopes),
            uses=uses,
        )
        payload = {
            "sub": sub,
            "jti": claims.jti,
            "iat": iat,
            "nbf": iat,
            "exp": claims.exp,
            "ver": version,
            "aud": LLM_AUDIENCE,
            "iss": self.issuer,
            "scope": list(claims.scopes),
            "model": model,
            "max_tokens": max_tokens,
            "uses": uses,
        }
        return self._encode(payload, LLM_TYP), claims

    def _encode(self, payload: dict[str, Any], typ: str) -> str:
        headers = {"kid": self._signing_kid, "typ": typ}
        return jwt.encode(payload, self._signing_key, algorithm=ALGORITHM, headers=headers)

    # --- verifying -----------------------------------------------------------------------------------
    def verify_user(self, token: str) -> UserClaims:
        """The claims of a valid user token; raises `InvalidToken` otherwise."""
        payload = self._decode(token, typ=USER_TYP, audience=USER_AUDIENCE)
        if "model" in payload or "scope" in payload:
            raise InvalidToken("user token carries LLM claims")
        return UserClaims(
            sub=payload["sub"],
            jti=payload["jti"],
            iat=payload["iat"],
            exp=payload["exp"],
            version=payload["ver"],
        )

    def verify_llm(self, token: str) -> LLMClaims:
        """The claims of a valid scoped LLM token; raises `InvalidToken` otherwise."""
        payload = self._decode(token, typ=LLM_TYP, audience=LLM_AUDIENCE)
        scopes, model = payload.get("scope"), payload.get("model")
        max_tokens, uses = payload.get("max_tokens"), payload.get("uses")
        if not (isinstance(scopes, list) and all(isinstance(s, str) for s in scopes)):
            raise InvalidToken("scope claim missing or malformed")
        if not isinstance(model, str) or not model:
            raise InvalidToken("model claim missing or malformed")
        if type(max_tokens) is not int or max_tokens < 1:
            raise InvalidToken("max_tokens claim missing or malformed")
        if type(uses) is not int or uses < 1:
            raise InvalidToken("uses claim missing or malformed")
        return LLMClaims(
            sub=payload["sub"],
            jti=payload["jti"],
            iat=payload["iat"],
            exp=payload["exp"],
            version=payload["ver"],
            model=model,
            max_tokens=max_tokens,
            scopes=tuple(scopes),
            uses=uses,
        )

    def _decode(self, token: str, *, typ: str, audience: str) -> dict[str, Any]:
        if not token or len(token) > 8192:
            raise InvalidToken("token missing or oversized")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidToken("malformed token") from None
        # Checked before any key is touched: the algorithm is ours to choose, never the token's.
        if header.get("alg") != ALGORITHM:
            raise InvalidToken(f"algorithm not allowed: {str(header.get('alg'))[:16]}")
        if "crit" in header:
            raise InvalidToken("critical header extensions are not supported")
        if header.get("typ") != typ:
            raise InvalidToken("wrong token type")
        key = self._keys.get(str(header.get("kid")))
        if key is None:
            raise InvalidToken("unknown key id")
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": REQUIRED_CLAIMS, "verify_signature": True},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired", public="token expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("token not yet valid") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("wrong audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("wrong issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"missing claim {exc.claim}") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("bad signature") from None
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(f"invalid token: {type(exc).__name__}") from None
        if not isinstance(payload.get("sub"), str) or not isinstance(payload.get("jti"), str):
            raise InvalidToken("sub or jti malformed")
        if type(payload.get("iat")) is not int or type(payload.get("exp")) is not int:
            raise InvalidToken("iat or exp malformed")
        if type(payload.get("ver")) is not int:
            raise InvalidToken("ver claim missing or malformed")
        return payload
