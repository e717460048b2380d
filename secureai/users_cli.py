"""`secureai user ...`: manage users. Passwords come from stdin only, never from the command line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from shared.config import get_settings
from shared.passwords import PasswordService
from shared.redis import connect
from shared.users import ADMIN_SCOPES, ALL_MODELS, DEFAULT_SCOPES, SCOPES, UnknownUser, UserExists, UserStore

MIN_PASSWORD_LENGTH = 10


def add_commands(commands: Any) -> None:
    user = commands.add_parser("user", help="manage users")
    actions = user.add_subparsers(dest="action", metavar="ACTION", parser_class=type(user))
    actions.required = True

    add = actions.add_parser("add", help="create a user (password on stdin)")
    add.add_argument("name")
    add.add_argument("--scopes", default=None, help=f"comma list of {', '.join(SCOPES)}")
    add.add_argument("--models", default=ALL_MODELS, help="comma list of model names, or * for all")
    add.add_argument("--max-tokens", type=int, default=1024)
    add.add_argument("--max-uses", type=int, default=10, help="most uses a scoped token may ask for")
    add.add_argument("--weight", type=float, default=1.0, help="fair-share weight")
    add.add_argument("--admin", action="store_true", help="grant every scope")
    add.add_argument("--password-stdin", action="store_true", required=True)
    add.set_defaults(handler=_add)

    listing = actions.add_parser("list", help="list users")
    listing.set_defaults(handler=_list)

    disable = actions.add_parser("disable", help="disable a user and end their sessions")
    disable.add_argument("name")
    disable.set_defaults(handler=_disable)

    enable = actions.add_parser("enable", help="re-enable a user")
    enable.add_argument("name")
    enable.set_defaults(handler=_enable)

    delete = actions.add_parser("delete", help="remove a user for good (their tokens die with them)")
    delete.add_argument("name")
    delete.set_defaults(handler=_delete)

    passwd = actions.add_parser("passwd", help="set a new password (on stdin) and end the user's sessions")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", required=True)
    passwd.set_defaults(handler=_passwd)


def read_password() -> str:
    """One password from stdin (prompted without echo on a terminal)."""
    from secureai.cli import UsageError

    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise UsageError("the passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UsageError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
    return password


def password_service() -> PasswordService:
    settings = get_settings()
    return PasswordService(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_cost,
        parallelism=settings.argon2_parallelism,
        max_concurrent=1,
        max_waiting=0,
    )


def _run(coro: Any) -> int:
    return int(asyncio.run(coro) or 0)


def _store() -> UserStore:
    return UserStore(connect(get_settings().redis_url, max_connections=2))


def _add(args: argparse.Namespace) -> int:
    from secureai.cli import UsageError

    if args.admin:
        scopes = list(ADMIN_SCOPES)
    elif args.scopes is None:
        scopes = list(DEFAULT_SCOPES)
    else:
        scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.max_tokens < 1 or args.max_uses < 1 or args.weight <= 0:
        raise UsageError("--max-tokens and --max-uses must be at least 1, --weight above 0")
    password = read_password()

    async def add() -> int:
        store = _store()
        try:
            hashed = await password_service().hash(password)
            await store.create(
                args.name.lower(),
                hashed,
                scopes=scopes,
                models=models,
                max_tokens=args.max_tokens,
                max_uses=args.max_uses,
                admin=args.admin,
                weight=args.weight,
            )
        except UserExists:
            raise UsageError(f"user {args.name} already exists") from None
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        finally:
            await store.redis.aclose()
        print(f"created user {args.name.lower()}")
        return 0

    return _run(add())


def _list(args: argparse.Namespace) -> int:
    async def listing() -> int:
        store = _store()
        try:
            for name in await store.names():
                user = await store.get(name)
                if user is None:
                    continue
                state = "disabled" if user.disabled else "active"
                print(
                    f"{user.name}\t{state}\tscopes={','.join(sorted(user.scopes))}\t"
                    f"models={','.join(sorted(user.models))}\tmax_tokens={user.max_tokens}"
                )
        finally:
            await store.redis.aclose()
        return 0

    return _run(listing())


def _change(name: str, change: Any, done: str) -> int:
    from secureai.cli import UsageError

    async def apply() -> int:
        store = _store()
        try:
            await change(store)
        except UnknownUser:
            raise UsageError(f"no user {name}") from None
        finally:
            await store.redis.aclose()
        print(done)
        return 0

    return _run(apply())


def _disable(args: argparse.Namespace) -> int:
    return _change(
        args.name, lambda s: s.set_disabled(args.name, True), f"disabled {args.name}; its tokens are dead"
    )


def _enable(args: argparse.Namespace) -> int:
    return _change(args.name, lambda s: s.set_disabled(args.name, False), f"enabled {args.name}")


def _delete(args: argparse.Namespace) -> int:
    return _change(args.name, lambda s: s.delete(args.name), f"deleted {args.name}")


def _passwd(args: argparse.Namespace) -> int:
    password = read_password()

    async def change(store: UserStore) -> None:
        await store.set_password_hash(args.name, await password_service().hash(password), end_sessions=True)

    return _change(args.name, change, f"password of {args.name} changed; its earlier tokens are dead")
