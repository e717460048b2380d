"""Hostile HTTP against the real `secureai api` process (uvicorn and the app, as deployed).

Oversized and endless bodies, deeply nested JSON, invalid UTF-8, huge heads, and slowloris-style slow heads
and bodies: each gets a clean 4xx (or, past a size that must not be read at all, a closed connection), the
API's memory stays bounded, and a well-behaved client is answered all along.
"""

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from secureai.bench.harness import rss_mib
from secureai.stack import Stack
from tests.conftest import PASSWORD
from tests.processes import (
    PrivateRedis,
    assert_no_tracebacks,
    create_user,
    gateway_env,
    login,
    mint,
    running_stack,
)

pytestmark = pytest.mark.e2e

# Short deadlines keep the slow-client tests short; the defaults are 10 s (head) and 30 s (body).
HEAD_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.0
# Memory the API may grow by over the whole module (its resident size starts around 70 MiB).
RSS_GROWTH_MIB = 64
# How long a refused client waits for its answer: a guard against a hang, not a measurement.
ANSWER_WITHIN_S = 15.0


@dataclass
class Api:
    stack: Stack
    llm: str  # a scoped token for `echo` with many uses

    @property
    def url(self) -> str:
        return self.stack.url

    @property
    def port(self) -> int:
        return self.stack.port


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("hostile-http")
    server = PrivateRedis(tmp / "redis")
    server.start()
    create_user(server.url)
    env = gateway_env(
        tmp, server.url, HTTP_HEADER_TIMEOUT_S=str(HEAD_TIMEOUT_S), HTTP_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S)
    )
    try:
        with running_stack(env, {"echo": None}, tmp / "logs") as stack:
            with httpx.Client(base_url=stack.url, timeout=10) as http:
                llm = mint(http, login(http), "echo", uses=1000)["X-LLM-Token"]
            process = stack.processes["api"]
            rss_at_start = rss_mib(process.pid)
            yield Api(stack, llm)
            # The whole module's abuse left the API alive and lean.
            assert process.poll() is None
            grown = rss_mib(process.pid) - rss_at_start
            assert grown < RSS_GROWTH_MIB, f"the API grew by {grown:.0f} MiB"
    finally:
        server.stop()
    # ... and without a single unhandled error.
    assert_no_tracebacks(tmp / "logs", "internal_error")


async def exchange(api: Api, raw: bytes, *, chunks: list[bytes] | None = None) -> tuple[int | None, bytes]:
    """Send `raw` (then `chunks`); returns the answer's status and body, or (None, b"") when the server
    closed the connection without an answer (which it may do while a client is still sending)."""
    return status_and_body(await raw_exchange(api, raw, chunks=chunks))


async def raw_exchange(api: Api, raw: bytes, *, chunks: list[bytes] | None = None) -> bytes:
    """Send `raw` (then `chunks`); returns all the server wrote until it closed (b"" on a reset)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", api.port)
    try:
        with contextlib.suppress(ConnectionError):
            writer.write(raw)
            for chunk in chunks or []:
                writer.write(chunk)
                await writer.drain()
            await writer.drain()
        try:
            return await asyncio.wait_for(reader.read(), ANSWER_WITHIN_S)
        except ConnectionError:
            return b""
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def status_and_body(answer: bytes) -> tuple[int | None, bytes]:
    """The status and body of a raw HTTP answer; (None, b"") when the server closed without one."""
    if not answer:
        return None, b""
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head[9:12]), body


def request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: gateway", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body and not any(name.lower() in ("content-length", "transfer-encoding") for name in headers or {}):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def json_error(body: bytes) -> dict[str, Any]:
    """The error object of a JSON error answer (whichever protocol's shape)."""
    error: dict[str, Any] = orjson.loads(body)["error"]
    return error


async def test_oversized_bodies_are_refused_without_being_read(api: Api) -> None:
    llm = {"X-LLM-Token": api.llm, "Content-Type": "application/json"}
    # Announced too big: refused on the head alone (the 100 MB never comes).
    status, body = await exchange(
        api, request("POST", "/api/v1/jobs", headers={**llm, "Content-Length": "100000000"})
    )
    assert status == 413 and json_error(body)["code"] == "payload_too_large"
    # Not announced (chunked): refused as soon as the running total passes the limit.
    chunk = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"
    head = request("POST", "/api/v1/jobs", headers={**llm, "Transfer-Encoding": "chunked"})
    status, body = await exchange(api, head, chunks=[chunk] * 48 + [b"0\r\n\r\n"])
    assert status in (413, None)  # the server may close before the client has sent everything
    if status is not None:
        assert json_error(body)["code"] == "payload_too_large"
    # A login body is tiny: anything near the general limit is refused before it is parsed.
    big_login = orjson.dumps({"username": "alice", "password": "x" * 20_000})
    status, body = await exchange(
        api, request("POST", "/auth/login", big_login, {"Content-Type": "application/json"})
    )
    assert status == 413 and json_error(body)["code"] == "payload_too_large"


@pytest.mark.parametrize(
    ("path", "auth"),
    [
        ("/api/v1/jobs", "llm"),
        ("/v1/chat/completions", "bearer"),
        ("/api/chat", "bearer"),
        ("/auth/login", None),
    ],
)
async def test_deeply_nested_json_gets_a_clean_400(api: Api, path: str, auth: str | None) -> None:
    headers = {"Content-Type": "application/json"}
    if auth == "llm":
        headers["X-LLM-Token"] = api.llm
    elif auth == "bearer":
        headers["Authorization"] = f"Bearer {api.llm}"
    # Deep enough for any recursive parser; the login's fits in the small body a login may have.
    depth = 1000 if path == "/auth/login" else 100_000
    for nested in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        status, body = await exchange(api, request("POST", path, nested, headers))
        assert status in (400, 422), (status, body[:200])
        assert "error" in orjson.loads(body)


async def test_invalid_utf8_gets_a_clean_4xx(api: Api) -> None:
    json_headers = {"Content-Type": "application/json"}
    bad_body = b'{"username": "\xff\xfe", "password": "x"}'
    status, body = await exchange(api, request("POST", "/auth/login", bad_body, json_headers))
    assert status == 400 and json_error(body)["code"] == "invalid_json"
    status, body = await exchange(
        api,
        request(
            "POST",
            "/api/v1/jobs",
            b'{"prompt": "\xc3\x28", "model": "echo"}',
            {**json_headers, "X-LLM-Token": api.llm},
        ),
    )
    assert status == 400 and json_error(body)["code"] == "invalid_json"
    # In the path: uvicorn refuses the request line itself.
    status, _ = await exchange(api, b"GET /api/v1/jobs/\xff\xfe HTTP/1.1\r\nHost: gateway\r\n\r\n")
    assert status == 400
    # In a token header: just a bad token.
    raw = b"GET /api/v1/usage HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n"
    status, body = await exchange(api, raw + b"Authorization: Bearer \xff\xfe\r\n\r\n")
    assert status == 401 and json_error(body)["code"] == "invalid_token"


async def test_huge_request_heads_are_refused_and_not_buffered(api: Api) -> None:
    status, body = await exchange(api, request("GET", "/healthz", headers={"X-Big": "a" * 40_000}))
    assert status == 431 and json_error(body)["code"] == "headers_too_large"
    many = {f"X-Header-{index}": "v" for index in range(20_000)}
    status, body = await exchange(api, request("GET", "/healthz", headers=many))
    assert status == 431
    # Far past the limit: the server stops reading and closes, whatever the client still sends.
    status, _ = await exchange(api, request("GET", "/healthz", headers={"X-Big": "a" * 20_000_000}))
    assert status in (431, None)
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as http:
        assert (await http.get("/healthz")).status_code == 200


async def slow_client(api: Api, head: bytes, trickle: bytes) -> tuple[int | None, bytes]:
    """Send `head`, then `trickle` a byte every 0.2 s until the server answers or closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", api.port)
    writer.write(head)
    answer = b""
    try:
        for index in range(int(ANSWER_WITHIN_S / 0.2)):
            try:
                answer = await asyncio.wait_for(reader.read(), 0.2)
                break
            except TimeoutError:
                writer.write(trickle[index % len(trickle) : index % len(trickle) + 1])
    except ConnectionError:
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return status_and_body(answer)


async def test_slow_heads_and_bodies_are_cut_off_while_others_are_served(api: Api) -> None:
    slow_heads = [
        slow_client(api, b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n", b"X-Slow: aaaaaaaaaaaaaaaaaaaa")
        for _ in range(20)
    ]
    # More slow login bodies than there are login slots (hashes at once plus waiting).
    login_head = b"POST /auth/login HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
    slow_bodies = [
        slow_client(api, login_head + b"Content-Length: 100\r\n\r\n{", b'"username"') for _ in range(12)
    ]
    pending = [asyncio.ensure_future(client) for client in slow_heads + slow_bodies]
    await asyncio.sleep(0.3)
    # Meanwhile a well-behaved client logs in, mints a token, runs a job and reads it.
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as http:
        assert (await http.get("/healthz")).status_code == 200
        logged_in = await http.post("/auth/login", json={"username": "alice", "password": PASSWORD})
        assert logged_in.status_code == 200, logged_in.text
        user = {"Authorization": f"Bearer {logged_in.json()['access_token']}"}
        minted = await http.post("/auth/scoped-token", json={"model": "echo", "max_tokens": 8}, headers=user)
        answer = await http.post(
            "/api/v1/llm/generate",
            json={"prompt": "still here", "model": "echo"},
            headers={"X-LLM-Token": minted.json()["llm_token"]},
        )
        assert answer.status_code == 200 and answer.json()["content"] == "still here"
    results = await asyncio.gather(*pending)
    for status, body in results:
        assert status == 408, (status, body)
        assert json_error(body)["code"] == "request_timeout"


async def test_a_request_answered_before_its_body_gets_no_second_answer(api: Api) -> None:
    # Refused on its head (a body announced too big), on a kept-alive connection, and the body never
    # comes: the body deadline then closes the connection without writing a 408 after the 413.
    head = request("POST", "/api/v1/jobs", headers={"X-LLM-Token": api.llm, "Content-Length": "100000000"})
    answer = await raw_exchange(api, head.replace(b"Connection: close", b"Connection: keep-alive"))
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert answer.count(b"HTTP/1.1 ") == 1, answer
