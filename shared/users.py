"""User records in Redis: password hash, rights (scopes, models, max_tokens) and state.

A user hash holds `token_version`, copied into every token issued to the user; disabling the user or
changing the password bumps it, which ends every live session at once without a list of tokens.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from shared import keys

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
ALL_MODELS = "*"
SCOPES = ("llm:generate", "jobs:read", "admin:users", "admin:audit")
DEFAULT_SCOPES = ("llm:generate", "jobs:read")
ADMIN_SCOPES = SCOPES


class UserExists(Exception):
    """A user with that name already exists."""


class UnknownUser(Exception):
    """No user with that name."""


def valid_username(name: str) -> bool:
    """Lower-case letters, digits and `_.-`, at most 64 characters."""
    return bool(USERNAME_PATTERN.fullmatch(name))


@dataclass(frozen=True)
class User:
    """A user and their rights."""

    name: str
    password_hash: str
    scopes: frozenset[str]
    models: frozenset[str]
    max_tokens: int
    max_uses: int
    admin: bool = False
    disabled: bool = False
    weight: float = 1.0
    token_version: int = 0
    created_at: float = 0.0
    limits: dict[str, float] = field(default_factory=dict)

    @property
    def role(self) -> str:
        """The role policies are keyed on (`admin` or `user`)."""
        return "admin" if self.admin else "user"

    def allows_model(self, model: str) -> bool:
        """True when the user may use `model`."""
        return ALL_MODELS in self.models or model in self.models

    def token_alive(self, version: int) -> bool:
        """True when a token carrying `version` has not been killed by a disable or password change."""
        return not self.disabled and version == self.token_version

    def public(self) -> dict[str, Any]:
        """The record without its password hash."""
        return {
            "name": self.name,
            "scopes": sorted(self.scopes),
            "models": sorted(self.models),
            "max_tokens": self.max_tokens,
            "max_uses": self.max_uses,
            "admin": self.admin,
            "disabled": self.disabled,
            "weight": self.weight,
            "created_at": self.created_at,
            "limits": self.limits,
        }


def parse_user(name: str, raw: dict[str, str]) -> User:
    """A `User` from its Redis hash."""
    return User(
        name=name,
        password_hash=raw.get("password_hash", ""),
        scopes=frozenset(filter(None, raw.get("scopes", "").split(","))),
        models=frozenset(filter(None, raw.get("models", "").split(","))),
        max_tokens=int(raw.get("max_tokens", "0")),
        max_uses=int(raw.get("max_uses", "1")),
        admin=raw.get("admin") == "1",
        disabled=raw.get("disabled") == "1",
        weight=float(raw.get("weight", "1")),
        token_version=int(raw.get("token_version", "0")),
        created_at=float(raw.get("created_at", "0")),
        limits=json.loads(raw.get("limits") or "{}"),
    )


class UserStore:
    """Read and change user records."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def get(self, name: str) -> User | None:
        """The user called `name`, or None."""
        if not valid_username(name):
            return None
        raw = await self.redis.hgetall(keys.user(name))
        return parse_user(name, raw) if raw else None

    async def any_exist(self) -> bool:
        """True once at least one user was created."""
        return bool(await self.redis.scard(keys.USERS))

    async def names(self) -> list[str]:
        """Every user name, sorted."""
        return sorted(await self.redis.smembers(keys.USERS))

    async def create(
        self,
        name: str,
        password_hash: str,
        *,
        scopes: tuple[str, ...] | list[str] = DEFAULT_SCOPES,
        models: tuple[str, ...] | list[str] = (ALL_MODELS,),
        max_tokens: int = 1024,
        max_uses: int = 10,
        admin: bool = False,
        weight: float = 1.0,
    ) -> User:
        """Create a user; raises `UserExists` when the name is taken."""
        if not valid_username(name):
            raise ValueError("user names are 1-64 lower-case letters, digits, '_', '.' or '-'")
        unknown = set(scopes) - set(SCOPES)
        if unknown:
            raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
        if not await self.redis.sadd(keys.USERS, name):
            raise UserExists(name)
        record = {
            "password_hash": password_hash,
            "scopes": ",".join(sorted(set(scopes))),
            "models": ",".join(sorted(set(models))),
            "max_tokens": str(max_tokens),
            "max_uses": str(max_uses),
            "admin": "1" if admin else "0",
            "disabled": "0",
            "weight": repr(float(weight)),
            "token_version": "0",
            "created_at": repr(time.time()),
        }
        await self.redis.hset(keys.user(name), mapping=record)
        user = await self.get(name)
        assert user is not None
        return user

    async def set_password_hash(self, name: str, password_hash: str, *, end_sessions: bool) -> None:
        """Store a new hash; with `end_sessions`, tokens issued so far stop working."""
        await self._require(name)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.user(name), "password_hash", password_hash)
            if end_sessions:
                pipe.hincrby(keys.user(name), "token_version", 1)
            await pipe.execute()

    async def set_disabled(self, name: str, disabled: bool) -> None:
        """Disable (ending every live token) or re-enable a user."""
        await self._require(name)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.user(name), "disabled", "1" if disabled else "0")
            if disabled:
                pipe.hincrby(keys.user(name), "token_version", 1)
            await pipe.execute()

    async def delete(self, name: str) -> None:
        """Remove a user for good."""
        await self._require(name)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.srem(keys.USERS, name)
            pipe.delete(keys.user(name))
            await pipe.execute()

    async def _require(self, name: str) -> None:
        if not valid_username(name) or not await self.redis.exists(keys.user(name)):
            raise UnknownUser(name)
