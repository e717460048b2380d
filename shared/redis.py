"""Redis connections and the Lua scripts, loaded once from `shared/lua/*.lua`."""

from __future__ import annotations

from importlib.resources import files

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

SCRIPT_NAMES = (
    "submit",
    "dispatch",
    "start",
    "finish",
    "cancel",
    "reap",
    "position",
    "quota",
    "gcra",
    "use_token",
    "append_once",
)


def connect(url: str, *, max_connections: int = 256) -> Redis:
    """A client for `url` that decodes replies to `str`."""
    client: Redis = Redis.from_url(
        url,
        decode_responses=True,
        max_connections=max_connections,
        socket_connect_timeout=2.0,
        health_check_interval=30,
    )
    return client


class Scripts:
    """The gateway's Lua scripts registered on one client (EVALSHA, falling back to EVAL once)."""

    submit: AsyncScript
    dispatch: AsyncScript
    start: AsyncScript
    finish: AsyncScript
    cancel: AsyncScript
    reap: AsyncScript
    position: AsyncScript
    quota: AsyncScript
    gcra: AsyncScript
    use_token: AsyncScript
    append_once: AsyncScript

    def __init__(self, client: Redis) -> None:
        lua = files("shared").joinpath("lua")
        for name in SCRIPT_NAMES:
            source = lua.joinpath(f"{name}.lua").read_text(encoding="utf-8")
            setattr(self, name, client.register_script(source))
