"""The `secureai` command: help everywhere, one-line errors with exit code 2, users managed from stdin."""

import os
import subprocess
import sys

import pytest
from redis.asyncio import Redis

from shared.users import UserStore
from tests.conftest import REDIS_URL

COMMANDS = [
    [],
    ["up"],
    ["api"],
    ["scheduler"],
    ["worker"],
    ["user"],
    ["user", "add"],
    ["user", "list"],
    ["user", "disable"],
    ["user", "delete"],
    ["user", "passwd"],
    ["bench"],
    ["bench", "dispatch"],
    ["bench", "login"],
    ["bench", "fairness"],
    ["bench", "gpu"],
    ["bench", "limits"],
    ["bench", "firewall"],
]


def secureai(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "REDIS_URL": REDIS_URL,
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST": "8192",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "secureai", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "secureai")
def test_every_command_has_help(command: list[str]) -> None:
    result = secureai(*command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: secureai")


@pytest.mark.parametrize(
    "args",
    [
        ["bogus"],
        ["worker"],
        ["api", "--port", "eighty"],
        ["user", "add", "bob"],
        ["bench", "dispatch", "--jobs", "x"],
    ],
)
def test_bad_arguments_get_one_line_and_exit_2(args: list[str]) -> None:
    result = secureai(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("secureai")
    assert "Traceback" not in result.stderr


def test_bad_settings_and_catalogs_get_one_line_and_exit_2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    short_key = secureai("api", SECRET_KEY="too-short")
    assert short_key.returncode == 2 and "SECRET_KEY must be at least 32 bytes" in short_key.stderr
    assert short_key.stderr.count("\n") == 1
    unknown_pool = secureai("worker", "--pool", "gpu9")
    assert unknown_pool.returncode == 2 and "no model in the catalog uses pool 'gpu9'" in unknown_pool.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[models.x\n")
    bad_catalog = secureai("scheduler", SECUREAI_MODELS=str(broken))
    assert bad_catalog.returncode == 2 and "not valid TOML" in bad_catalog.stderr


async def test_user_lifecycle_from_stdin(redis: Redis) -> None:
    created = secureai(
        "user",
        "add",
        "bob",
        "--models",
        "echo",
        "--max-tokens",
        "32",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert created.returncode == 0, created.stderr
    user = await UserStore(redis).get("bob")
    assert user is not None and user.models == frozenset({"echo"}) and user.max_tokens == 32
    assert user.password_hash.startswith("$argon2id$") and "a long enough password" not in user.password_hash

    again = secureai("user", "add", "bob", "--password-stdin", stdin="a long enough password\n")
    assert again.returncode == 2 and "already exists" in again.stderr
    short = secureai("user", "add", "carol", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr

    listed = secureai("user", "list")
    assert listed.returncode == 0 and listed.stdout.startswith("bob\tactive")

    assert secureai("user", "disable", "bob").returncode == 0
    assert (await UserStore(redis).get("bob")).disabled  # type: ignore[union-attr]
    assert secureai("user", "enable", "bob").returncode == 0
    before = (await UserStore(redis).get("bob")).password_hash  # type: ignore[union-attr]
    assert (
        secureai("user", "passwd", "bob", "--password-stdin", stdin="another long password\n").returncode == 0
    )
    after = await UserStore(redis).get("bob")
    assert (
        after is not None and after.password_hash != before and after.token_version == 2
    )  # one bump for the disable, one for the change
    assert secureai("user", "delete", "bob").returncode == 0
    assert await UserStore(redis).get("bob") is None
    missing = secureai("user", "disable", "nobody")
    assert missing.returncode == 2 and "no user nobody" in missing.stderr


def test_redis_down_is_one_line_and_exit_1() -> None:
    result = secureai("user", "list", REDIS_URL="redis://127.0.0.1:1/0")
    assert result.returncode == 1
    assert result.stderr.startswith("secureai: error:") and result.stderr.count("\n") == 1
