"""Clients that vanish: the connection is reset (no close handshake) while they wait or stream.

The job goes on and is readable afterwards, it is charged once, and the API lets go of what the client
held (its completion waiter, its stream slot).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from typing import Any

import orjson
from redis.asyncio import Redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from shared import keys
from tests.live import Live, live_fixture  # noqa: F401 (the `live` fixture)

PROMPT = "a b c d e"  # echo-slow: one word every 0.2 s
LONG_PROMPT = "one two three four five six seven eight nine ten"


async def reset(transport: asyncio.WriteTransport) -> None:
    """Drop the connection the rude way: an RST, no FIN, no close frame."""
    sock = transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    await asyncio.sleep(0)


def raw_request(live: Live, method: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> bytes:
    payload = orjson.dumps(body)
    host = live.url.removeprefix("http://")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json"]
    lines += [f"Content-Length: {len(payload)}", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def open_raw(live: Live) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = live.url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def job_of_request(redis: Redis, request_id: str) -> str:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        async for key in redis.scan_iter(keys.JOB_PREFIX + "*"):
            if await redis.hget(key, "request_id") == request_id:
                return str(key).removeprefix(keys.JOB_PREFIX)
        await asyncio.sleep(0.02)
    raise AssertionError(f"no job for request {request_id}")


async def read_when_ended(live: Live, job_id: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job: dict[str, Any] = (await live.http.get(f"/api/v1/jobs/{job_id}", headers=headers)).json()
        if job["status"] not in ("queued", "running"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end")


async def settled(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return False


async def test_a_client_gone_while_waiting_on_generate_leaves_a_finished_readable_job(
    live: Live, redis: Redis
) -> None:
    user = {"Authorization": f"Bearer {await live.user_token()}"}
    llm = {"X-LLM-Token": await live.llm_token("echo-slow"), "X-Request-ID": "left-while-waiting"}
    _, writer = await open_raw(live)
    body = {"prompt": PROMPT, "model": "echo-slow"}
    writer.write(raw_request(live, "POST", "/api/v1/llm/generate", body, llm))
    await writer.drain()
    job_id = await job_of_request(redis, "left-while-waiting")
    await reset(writer.transport)

    job = await read_when_ended(live, job_id, user)
    assert job["status"] == "succeeded" and job["result"] == {"content": PROMPT}
    waiter = live.http.app.state.services.waiter  # type: ignore[attr-defined]
    assert await settled(lambda: not waiter._waiting), "the waiter still watches the abandoned job"
    totals = (await live.http.get("/api/v1/usage", headers=user)).json()["totals"]
    assert totals["tokens"] == job["usage"]["prompt_tokens"] + job["usage"]["completion_tokens"]


async def test_a_websocket_reset_mid_job_frees_its_slot_and_the_client_resumes(live: Live) -> None:
    token = await live.llm_token("echo-slow")
    submitted = await live.http.post(
        "/api/v1/jobs", json={"prompt": LONG_PROMPT, "model": "echo-slow"}, headers={"X-LLM-Token": token}
    )
    job_id = submitted.json()["job_id"]
    url = f"{live.url.replace('http://', 'ws://')}/api/v1/jobs/{job_id}/stream"
    auth = {"Authorization": f"Bearer {token}"}
    streams = live.http.app.state.streams  # type: ignore[attr-defined]
    seen: list[dict[str, Any]] = []
    ws = await connect(url, additional_headers=auth)
    while not any(event["type"] == "token" for event in seen):
        seen.append(orjson.loads(await ws.recv()))
    assert streams._open == 1
    await reset(ws.transport)
    # The server notices on its next event and gives the slot (and its Redis connection) back.
    assert await settled(lambda: streams._open == 0), streams._open

    rest: list[dict[str, Any]] = []
    async with connect(f"{url}?after={seen[-1]['id']}", additional_headers=auth) as again:
        try:
            async for message in again:
                rest.append(orjson.loads(message))
        except ConnectionClosed:
            pass
        assert again.close_code == 1000
    text = "".join(event["text"] for event in seen + rest if event["type"] == "token")
    assert text == LONG_PROMPT and rest[-1]["type"] == "done"


async def test_a_streamed_completion_abandoned_halfway_still_completes_its_job(live: Live) -> None:
    token = await live.llm_token("echo-slow")
    user = {"Authorization": f"Bearer {await live.user_token()}"}
    streams = live.http.app.state.streams  # type: ignore[attr-defined]
    reader, writer = await open_raw(live)
    body = {"model": "echo-slow", "stream": True, "messages": [{"role": "user", "content": PROMPT}]}
    writer.write(
        raw_request(live, "POST", "/v1/chat/completions", body, {"Authorization": f"Bearer {token}"})
    )
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    assert head.startswith("HTTP/1.1 200"), head
    job_id = next(
        line.split(":", 1)[1].strip() for line in head.split("\r\n") if line.lower().startswith("x-job-id:")
    )
    assert b"data: " in await reader.readuntil(b"\n\n")  # the first event, then gone
    await reset(writer.transport)

    job = await read_when_ended(live, job_id, user)
    assert job["status"] == "succeeded" and job["result"] == {"content": PROMPT}
    assert await settled(lambda: streams._open == 0), streams._open
