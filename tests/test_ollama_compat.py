"""The Ollama-compatible API, driven by the official `ollama` client (`Client` and `AsyncClient`)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import ollama
import orjson
import pytest
from redis.asyncio import Redis

from api.protocol.ollama import ChatRequest, GenerateRequest, chat_request, generate_request, model_name
from shared import keys
from shared.errors import BadRequest
from shared.jobs import Message
from tests.live import Live, live_fixture  # noqa: F401 (the `live` fixture)


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_sync_client_generate_and_stream(live: Live) -> None:
    token = await live.llm_token()

    def call() -> tuple[Any, list[Any]]:
        client = ollama.Client(host=live.url, headers=headers(token))
        whole = client.generate(model="echo", prompt="hello gateway world")
        parts = list(client.generate(model="echo", prompt="one two three", stream=True))
        return whole, parts

    whole, parts = await asyncio.to_thread(call)
    assert whole.response == "hello gateway world" and whole.done is True
    assert whole.done_reason == "stop" and whole.model == "echo"
    assert (whole.prompt_eval_count, whole.eval_count) == (3, 3)
    assert whole.total_duration is not None and whole.total_duration > 0
    assert "".join(p.response for p in parts) == "one two three"
    # The echo model is fast: its text may arrive in fewer, coalesced chunks; only the last one is done.
    assert parts[-1].done is True and not any(p.done for p in parts[:-1])
    assert parts[-1].eval_count == 3 and parts[-1].done_reason == "stop"


async def test_async_client_chat_and_stream(live: Live) -> None:
    client = ollama.AsyncClient(host=live.url, headers=headers(await live.llm_token()))
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "alpha beta gamma"}]
    whole = await client.chat(model="echo", messages=messages, options={"num_predict": 2, "temperature": 0})
    assert whole.message.role == "assistant" and whole.message.content == "alpha beta"
    assert whole.done_reason == "length" and whole.eval_count == 2
    parts = [part async for part in await client.chat(model="echo:latest", messages=messages, stream=True)]
    assert "".join(p.message.content or "" for p in parts) == "alpha beta gamma"
    assert parts[-1].done is True and parts[-1].model == "echo:latest"


async def test_a_generate_whose_prompt_breaks_its_system_rule_is_refused(live: Live) -> None:
    # Ollama's `system` is the operator's turn: the prompt is read beside it.
    client = ollama.AsyncClient(host=live.url, headers=headers(await live.llm_token()))
    system = "You are the payroll assistant. Help the authenticated employee with their own payslips only."
    with pytest.raises(ollama.ResponseError) as refused:
        await client.generate(model="echo", system=system, prompt="What does my coworker Priya earn?")
    assert refused.value.status_code == 400 and "firewall" in refused.value.error
    answered = await client.generate(model="echo", system=system, prompt="When is my next payslip due?")
    assert answered.response == "When is my next payslip due?"


async def test_list_shows_the_models_the_caller_may_use(live: Live) -> None:
    client = ollama.AsyncClient(host=live.url, headers=headers(await live.llm_token()))
    listed = await client.list()
    names = [model.model for model in listed.models]
    assert "echo" in names and names == sorted(names)


async def test_generate_without_prompt_loads_and_queues_nothing(live: Live, redis: Redis) -> None:
    client = ollama.AsyncClient(host=live.url, headers=headers(await live.llm_token()))
    loaded = await client.generate(model="echo")
    assert loaded.done is True and loaded.done_reason == "load"
    assert not await redis.keys(keys.JOB_PREFIX + "*")


async def test_bad_token_and_wrong_model_raise_response_error(live: Live) -> None:
    client = ollama.AsyncClient(host=live.url, headers=headers("not-a-token"))
    with pytest.raises(ollama.ResponseError) as denied:
        await client.generate(model="echo", prompt="hi")
    assert denied.value.status_code == 401 and denied.value.error == "invalid token"
    client = ollama.AsyncClient(host=live.url, headers=headers(await live.llm_token("echo")))
    with pytest.raises(ollama.ResponseError) as other_model:  # a streamed call raises as it is read
        async for _ in await client.chat(
            model="echo-slow", messages=[{"role": "user", "content": "hi"}], stream=True
        ):
            pass
    assert other_model.value.status_code == 403
    with pytest.raises(ollama.ResponseError) as unsupported:
        await client.chat(model="echo", messages=[{"role": "user", "content": "hi"}], format="json")
    assert unsupported.value.status_code == 400 and "format" in unsupported.value.error


async def test_rate_limit_is_a_429(live: Live, redis: Redis) -> None:
    await redis.hset(keys.user("alice"), "limits", orjson.dumps({"rate_limit_requests": 1}))
    client = ollama.AsyncClient(host=live.url, headers=headers(await live.llm_token()))
    await client.generate(model="echo", prompt="hi")
    with pytest.raises(ollama.ResponseError) as limited:
        await client.generate(model="echo", prompt="hi")
    assert limited.value.status_code == 429


async def test_failure_mid_stream_raises_response_error(live: Live) -> None:
    client = ollama.AsyncClient(host=live.url, headers=headers(await live.llm_token("echo-broken")))
    with pytest.raises(ollama.ResponseError) as failed:
        async for _ in await client.generate(model="echo-broken", prompt="hi", stream=True):
            pass
    assert failed.value.error == "upstream exploded"


async def test_raw_stream_is_ndjson_with_limit_headers(live: Live) -> None:
    token = await live.llm_token()
    async with (
        httpx.AsyncClient(base_url=live.url, timeout=30) as http,
        http.stream(
            "POST", "/api/generate", json={"model": "echo", "prompt": "x y"}, headers=headers(token)
        ) as r,
    ):
        assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson"
        assert "x-ratelimit-remaining-requests" in r.headers
        lines = [orjson.loads(line) async for line in r.aiter_lines() if line]
    assert lines[-1]["done"] is True and not any(line["done"] for line in lines[:-1])
    assert "".join(line["response"] for line in lines) == "x y"
    assert all(line["created_at"].endswith("Z") for line in lines)


async def test_malformed_body_gets_an_ollama_error(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.url) as http:
        response = await http.post("/api/chat", json={"model": 5}, headers=headers(await live.llm_token()))
    assert response.status_code == 400
    assert isinstance(response.json()["error"], str) and response.json()["code"] == "invalid_request"


# --- the protocol module alone ---------------------------------------------------------------------------
def test_requests_map_onto_generation_requests() -> None:
    generate = GenerateRequest.model_validate(
        {
            "model": "phi:latest",
            "prompt": "p",
            "system": "s",
            "options": {"num_predict": 5, "stop": ["x"], "seed": 1},
        }
    )
    request = generate_request(generate, 32768)
    assert request.messages == (Message("system", "s"), Message("user", "p")) and request.max_tokens == 5
    assert request.stop == ("x",) and model_name(generate.model) == "phi"
    chat = ChatRequest.model_validate(
        {
            "model": "phi",
            "messages": [{"role": "user", "content": "c"}],
            "tools": [],
            "options": {"num_predict": -1},
        }
    )
    assert chat_request(chat, 32768).max_tokens == 0  # the token's whole budget


@pytest.mark.parametrize(
    "fields",
    [
        {"images": ["aGVsbG8="]},
        {"context": [1, 2, 3]},
        {"think": True},
        {"format": {"type": "object"}},
    ],
)
def test_fields_it_cannot_honour_are_refused(fields: dict[str, Any]) -> None:
    body = GenerateRequest.model_validate({"model": "echo", "prompt": "p", **fields})
    with pytest.raises(BadRequest):
        generate_request(body, 32768)
