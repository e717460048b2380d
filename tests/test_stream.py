"""`WS /api/v1/jobs/{id}/stream`: events from the job's Redis Stream, auth, resume, replay, disconnects."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from api.routes import stream as stream_route
from tests.conftest import UserFactory
from tests.live import Live, live_fixture  # noqa: F401 (the `live` fixture)

Event = dict[str, Any]


def ws_url(live: Live, job_id: str, query: str = "") -> str:
    return f"{live.url.replace('http://', 'ws://')}/api/v1/jobs/{job_id}/stream{query}"


async def submit(live: Live, token: str, prompt: str, model: str = "echo-slow") -> str:
    response = await live.http.post(
        "/api/v1/jobs", json={"prompt": prompt, "model": model}, headers={"X-LLM-Token": token}
    )
    assert response.status_code == 202, response.text
    assert response.json()["stream_url"] == f"/api/v1/jobs/{response.json()['job_id']}/stream"
    return str(response.json()["job_id"])


async def collect(ws: ClientConnection) -> tuple[list[Event], int | None]:
    """Every event until the server closes the socket, and the close code."""
    events: list[Event] = []
    try:
        async for message in ws:
            events.append(orjson.loads(message))
    except ConnectionClosed:
        pass
    return events, ws.close_code


async def wait_for_status(live: Live, job_id: str, token: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job: dict[str, Any] = (
            await live.http.get(f"/api/v1/jobs/{job_id}", headers={"X-LLM-Token": token})
        ).json()
        if job["status"] == status:
            return job
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id} never reached {status}")


async def test_events_of_a_job_from_queued_to_done(live: Live) -> None:
    token = await live.llm_token("echo-slow")
    job_id = await submit(live, token, "a b c")
    async with connect(ws_url(live, job_id), additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        events, code = await collect(ws)
    assert code == 1000
    kinds = [e["type"] for e in events]
    assert kinds[0] == "queued" and events[0]["position"] >= 0
    assert kinds[-4:] == ["token", "token", "token", "done"] and "started" in kinds
    assert "".join(e["text"] for e in events if e["type"] == "token") == "a b c"
    done = events[-1]
    assert done["result"] == {"content": "a b c"}
    assert done["usage"]["completion_tokens"] == 3 and "gpu_seconds" in done["usage"]
    stored = [e for e in events if e["type"] != "queued" or e is events[0]]
    assert len({e["id"] for e in stored}) == len(stored)  # every stored event has its own id


async def test_token_in_a_first_message_and_user_tokens_work(live: Live) -> None:
    token = await live.llm_token("echo")
    job_id = await submit(live, token, "hello", model="echo")
    async with connect(ws_url(live, job_id)) as ws:
        await ws.send(orjson.dumps({"token": await live.user_token()}).decode())
        events, code = await collect(ws)
    assert code == 1000 and events[-1]["type"] == "done" and events[-1]["result"] == {"content": "hello"}


async def test_no_token_in_time_closes_with_policy_violation(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream_route, "AUTH_TIMEOUT_S", 0.2)
    job_id = await submit(live, await live.llm_token("echo"), "hello", model="echo")
    async with connect(ws_url(live, job_id)) as ws:
        events, code = await collect(ws)
    assert events == [] and code == 1008


@pytest.mark.parametrize("message", ['{"token": "garbage"}', "not json", '{"tok": 1}', "[1]"])
async def test_a_bad_first_message_closes_with_policy_violation(live: Live, message: str) -> None:
    job_id = await submit(live, await live.llm_token("echo"), "hello", model="echo")
    async with connect(ws_url(live, job_id)) as ws:
        await ws.send(message)
        events, code = await collect(ws)
    assert events == [] and code == 1008


async def test_bad_header_token_closes_with_policy_violation(live: Live) -> None:
    job_id = await submit(live, await live.llm_token("echo"), "hello", model="echo")
    async with connect(ws_url(live, job_id), additional_headers={"Authorization": "Bearer nope"}) as ws:
        _, code = await collect(ws)
    assert code == 1008


async def test_another_users_job_is_not_found(live: Live, make_user: UserFactory) -> None:
    await make_user("bob")
    job_id = await submit(live, await live.llm_token("echo"), "hello", model="echo")
    bob = await live.user_token("bob")
    async with connect(ws_url(live, job_id), additional_headers={"Authorization": f"Bearer {bob}"}) as ws:
        _, code = await collect(ws)
    assert code == 4404
    missing = f"{int(time.time()):08x}" + "0" * 24
    async with connect(ws_url(live, missing), additional_headers={"Authorization": f"Bearer {bob}"}) as ws:
        _, code = await collect(ws)
    assert code == 4404


async def test_an_expired_job_says_so_and_closes(live: Live, make_user: UserFactory) -> None:
    await make_user("bob")
    bob = await live.user_token("bob")
    expired = f"{int(time.time()) - 86_400:08x}" + "ab" * 12
    async with connect(ws_url(live, expired), additional_headers={"Authorization": f"Bearer {bob}"}) as ws:
        events, code = await collect(ws)
    assert code == 1000
    assert [(e["type"], e["code"]) for e in events] == [("error", "expired")]


async def test_a_finished_job_replays_and_resumes_after_an_id(live: Live) -> None:
    token = await live.llm_token("echo-slow")
    # A slow model, so each token is its own event (a fast one's text comes in coalesced chunks).
    job_id = await submit(live, token, "one two three", model="echo-slow")
    await wait_for_status(live, job_id, token, "succeeded")
    auth = {"Authorization": f"Bearer {token}"}
    async with connect(ws_url(live, job_id), additional_headers=auth) as ws:
        replayed, code = await collect(ws)
    assert code == 1000
    assert [e["type"] for e in replayed] == ["queued", "started", "token", "token", "token", "done"]
    # Resuming after the second token's id yields exactly what followed it.
    after = replayed[3]["id"]
    async with connect(ws_url(live, job_id, f"?after={after}"), additional_headers=auth) as ws:
        resumed, code = await collect(ws)
    assert code == 1000 and resumed == replayed[4:]
    async with connect(ws_url(live, job_id, f"?after={replayed[-1]['id']}"), additional_headers=auth) as ws:
        nothing, code = await collect(ws)
    assert code == 1000 and nothing == []


async def test_a_malformed_after_is_refused(live: Live) -> None:
    token = await live.llm_token("echo")
    job_id = await submit(live, token, "x", model="echo")
    async with connect(
        ws_url(live, job_id, "?after=yesterday"), additional_headers={"Authorization": f"Bearer {token}"}
    ) as ws:
        _, code = await collect(ws)
    assert code == 4400


async def test_leaving_does_not_cancel_and_the_client_can_come_back(live: Live) -> None:
    token = await live.llm_token("echo-slow")
    job_id = await submit(live, token, "a b c d")
    auth = {"Authorization": f"Bearer {token}"}
    async with connect(ws_url(live, job_id), additional_headers=auth) as ws:
        seen: list[Event] = []
        while not any(e["type"] == "token" for e in seen):
            seen.append(orjson.loads(await ws.recv()))
    # Gone mid-job: the job carries on, and a new connection resumes after the last event seen.
    async with connect(ws_url(live, job_id, f"?after={seen[-1]['id']}"), additional_headers=auth) as ws:
        rest, code = await collect(ws)
    assert code == 1000 and rest[-1]["type"] == "done"
    text = "".join(e["text"] for e in seen + rest if e["type"] == "token")
    assert text == "a b c d"
    job = await wait_for_status(live, job_id, token, "succeeded")
    assert job["result"] == {"content": "a b c d"}


async def test_an_explicit_cancel_ends_the_stream_with_an_error(live: Live) -> None:
    token = await live.llm_token("echo-slow")
    job_id = await submit(live, token, "a b c d e f g h")
    async with connect(ws_url(live, job_id), additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        while orjson.loads(await ws.recv())["type"] != "token":
            pass
        cancelled = await live.http.delete(f"/api/v1/jobs/{job_id}", headers={"X-LLM-Token": token})
        assert cancelled.status_code == 200
        events, code = await collect(ws)
    assert code == 1000 and events[-1]["type"] == "error" and events[-1]["code"] == "cancelled"


async def test_queue_position_is_updated_as_the_job_moves(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("api.streaming.POSITION_RECHECK_S", 0.05)
    token = await live.llm_token("echo-slow", uses=10)
    # The echo pool has 4 slots: fill them with long jobs so the next ones wait in alice's queue.
    blockers = [await submit(live, token, " ".join(["w"] * 30)) for _ in range(4)]
    for job_id in blockers:
        await wait_for_status(live, job_id, token, "running")
    ahead = await submit(live, token, "first")
    waiting = await submit(live, token, "second in line")
    auth = {"Authorization": f"Bearer {token}"}
    async with connect(ws_url(live, waiting), additional_headers=auth) as ws:
        first = orjson.loads(await ws.recv())
        assert first["type"] == "queued" and first["position"] == 2
        await live.http.delete(f"/api/v1/jobs/{ahead}", headers={"X-LLM-Token": token})
        moved = orjson.loads(await ws.recv())
        assert moved == {"id": first["id"], "type": "queued", "position": 1}
        for job_id in blockers:
            await live.http.delete(f"/api/v1/jobs/{job_id}", headers={"X-LLM-Token": token})
        events, code = await collect(ws)
    assert code == 1000 and events[-1]["type"] == "done"
    assert events[-1]["result"] == {"content": "second in line"}


async def test_no_free_stream_slot_closes_with_try_again_later(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await live.llm_token("echo")
    job_id = await submit(live, token, "x", model="echo")
    monkeypatch.setattr(live.http.app.state.streams, "max_streams", 0)  # type: ignore[attr-defined]
    async with connect(ws_url(live, job_id), additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        events, code = await collect(ws)
    assert events == [] and code == 1013
