"""`secureai bench soak` end to end, briefly, on the tests' database (it flushes the database it is given)."""

import os
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import REDIS_URL

pytestmark = pytest.mark.e2e

COMMAND = [sys.executable, "-m", "secureai", "bench", "soak", "--redis-url", REDIS_URL]
# Cheap password hashing: the logins are part of the mix, their cost is not what this test is about.
CHEAP_HASHING = {**os.environ, "ARGON2_TIME_COST": "1", "ARGON2_MEMORY_COST": "8192"}


def test_a_short_soak_runs_every_route_and_loses_nothing(redis: Any) -> None:
    result = subprocess.run(
        [*COMMAND, "--duration", "6", "--rps", "15"],
        capture_output=True,
        text=True,
        timeout=240,
        env=CHEAP_HASHING,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "lost (accepted, never ended): 0; ended twice: 0" in out, out
    for route in (
        "POST /api/v1/jobs",
        "POST /api/v1/llm/generate",
        "WS /api/v1/jobs/{id}/stream",
        "blocked prompt",
    ):
        assert f"  {route} " in out, out
    assert "RSS start MiB" in out and "Traceback" not in result.stderr


def test_bad_arguments_get_one_line_and_exit_2() -> None:
    for bad in (["--rps", "0"], ["--duration", "soon"]):
        refused = subprocess.run([*COMMAND, *bad], capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
