"""`secureai up` on a machine without Redis at REDIS_URL, then the README's curl commands, verbatim."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

pytestmark = pytest.mark.e2e

README = Path(__file__).parent.parent / "README.md"
QUICKSTART_PORT = 8000


def quickstart_commands() -> str:
    text = README.read_text()
    block = re.search(r"<!-- quickstart:begin -->\s*```bash\n(.*?)```\s*<!-- quickstart:end -->", text, re.S)
    assert block is not None, "README lost its quick-start block"
    return block.group(1)


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(
    not port_free(QUICKSTART_PORT), reason="the README's commands use port 8000, which is taken"
)
def test_secureai_up_then_the_readme_commands(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECRET", "SECUREAI_", "REDIS_URL", "OPENAI"))
    }
    # Nothing answers here, so `up` has to start its own redis-server.
    env["REDIS_URL"] = f"redis://127.0.0.1:{closed_port()}/0"
    env["PYTHONUNBUFFERED"] = "1"
    up = subprocess.Popen(
        [sys.executable, "-m", "secureai", "up"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output = b""
    try:
        deadline = time.monotonic() + 180
        assert up.stdout is not None
        while b"SecureAI is up" not in output:
            assert time.monotonic() < deadline, output.decode(errors="replace")
            line = up.stdout.readline()
            assert line or up.poll() is None, output.decode(errors="replace")
            output += line
        assert b"starting a private redis-server" in output
        assert (tmp_path / ".secureai" / "redis" / "redis.sock").exists()
        password = (tmp_path / ".secureai" / "admin-password").read_text().strip()
        assert oct((tmp_path / ".secureai" / "admin-password").stat().st_mode)[-3:] == "600"
        assert password.encode() not in output

        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", quickstart_commands()],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr.decode()
        answer = orjson.loads(result.stdout)
        assert "error" not in answer, answer
        assert answer["model"] == "gemma3-270m"
        assert answer["content"].strip() and answer["tokens_used"] > 0
    finally:
        os.killpg(up.pid, signal.SIGINT)
        try:
            up.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
    assert up.returncode == 0
