"""Bad input: each case gets its status and a JSON error body, never a traceback, and nothing is queued."""

import time

import pytest
from redis.asyncio import Redis

from shared import keys
from tests.conftest import UserFactory, login, scoped_token


@pytest.fixture
async def llm_headers(client, make_user: UserFactory) -> dict[str, str]:
    await make_user()
    token = await scoped_token(client, await login(client), "echo", max_tokens=32, uses=5)
    return {"X-LLM-Token": token}


def assert_error(response, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and "Traceback" not in response.text


async def nothing_queued(redis: Redis) -> bool:
    return not await redis.keys(keys.USER_QUEUE_PREFIX + "*") and not await redis.keys(keys.JOB_PREFIX + "*")


async def test_malformed_json(client, llm_headers: dict[str, str], redis: Redis) -> None:
    response = await client.post(
        "/api/v1/jobs",
        content=b'{"prompt": "hi", "model": ',
        headers={**llm_headers, "content-type": "application/json"},
    )
    assert_error(response, 400, "invalid_json")
    assert await nothing_queued(redis)


@pytest.mark.parametrize(
    "body",
    [
        {"model": "echo"},  # prompt missing
        {"prompt": "hi"},  # model missing
        {"prompt": 42, "model": "echo"},
        {"prompt": "hi", "model": "echo", "max_tokens": "8"},
        {"prompt": "hi", "model": "echo", "max_tokens": 0},
        {"prompt": "hi", "model": "echo", "temperature": "hot"},
        {"prompt": "hi", "model": "echo", "unexpected": True},
        {"prompt": "", "model": "echo"},
        ["not", "an", "object"],
    ],
)
async def test_missing_or_wrong_typed_fields(
    client, llm_headers: dict[str, str], redis: Redis, body: object
) -> None:
    for path in ("/api/v1/jobs", "/api/v1/llm/generate"):
        assert_error(await client.post(path, json=body, headers=llm_headers), 422, "invalid_request")
    assert await nothing_queued(redis)


async def test_unknown_model(client, make_user: UserFactory, redis: Redis) -> None:
    await make_user()
    token = await scoped_token(client, await login(client), "echo", uses=5)
    # A model outside the token's binding is refused as a privilege problem before the catalog is consulted.
    response = await client.post(
        "/api/v1/jobs", json={"prompt": "hi", "model": "nope"}, headers={"X-LLM-Token": token}
    )
    assert_error(response, 403, "model_not_in_token")
    mint = await client.post(
        "/auth/scoped-token",
        json={"model": "nope", "max_tokens": 8},
        headers={"Authorization": f"Bearer {await login(client)}"},
    )
    assert_error(mint, 404, "model_not_found")
    assert await nothing_queued(redis)


async def test_max_tokens_above_the_models_cap(client, llm_headers: dict[str, str], redis: Redis) -> None:
    response = await client.post(
        "/api/v1/jobs", json={"prompt": "hi", "model": "echo", "max_tokens": 65}, headers=llm_headers
    )
    assert_error(response, 400, "max_tokens_too_large")
    assert await nothing_queued(redis)


async def test_max_tokens_above_the_tokens_budget(client, llm_headers: dict[str, str], redis: Redis) -> None:
    response = await client.post(
        "/api/v1/jobs", json={"prompt": "hi", "model": "echo", "max_tokens": 33}, headers=llm_headers
    )
    assert_error(response, 403, "budget_exceeded")
    assert await nothing_queued(redis)


async def test_prompt_over_the_size_limit(client, llm_headers: dict[str, str], redis: Redis) -> None:
    prompt = "é" * (16 * 1024 + 1)  # 32 KiB + 2 bytes of UTF-8
    for path in ("/api/v1/jobs", "/api/v1/llm/generate"):
        response = await client.post(path, json={"prompt": prompt, "model": "echo"}, headers=llm_headers)
        assert_error(response, 413, "prompt_too_large")
    assert await nothing_queued(redis)


async def test_oversized_body_is_refused_unread(client, llm_headers: dict[str, str]) -> None:
    huge = b'{"prompt": "' + b"a" * (2 << 20) + b'", "model": "echo"}'
    response = await client.post(
        "/api/v1/jobs", content=huge, headers={**llm_headers, "content-type": "application/json"}
    )
    assert_error(response, 413, "payload_too_large")


async def test_unknown_job_id(client, make_user: UserFactory) -> None:
    await make_user()
    headers = {"Authorization": f"Bearer {await login(client)}"}
    fresh_unknown = f"{int(time.time()):08x}" + "0" * 24
    for job_id in (fresh_unknown, "not-a-job", "%2e%2e", "0" * 31 + "g"):
        assert_error(await client.get(f"/api/v1/jobs/{job_id}", headers=headers), 404, "job_not_found")
        assert_error(await client.delete(f"/api/v1/jobs/{job_id}", headers=headers), 404, "job_not_found")


async def test_a_job_older_than_the_result_ttl_is_expired(client, make_user: UserFactory) -> None:
    await make_user()
    headers = {"Authorization": f"Bearer {await login(client)}"}
    old = f"{int(time.time()) - 7200:08x}" + "ab" * 12
    response = await client.get(f"/api/v1/jobs/{old}", headers=headers)
    assert response.status_code == 200
    assert response.json()["status"] == "expired" and response.json()["result"] is None
    assert response.json()["error"]["code"] == "expired"


async def test_missing_and_garbage_tokens(client, make_user: UserFactory) -> None:
    await make_user()
    body = {"prompt": "hi", "model": "echo"}
    assert_error(await client.post("/api/v1/jobs", json=body), 401, "missing_token")
    assert_error(
        await client.post("/api/v1/jobs", json=body, headers={"X-LLM-Token": "garbage"}), 401, "invalid_token"
    )
    user_token = await login(client)
    # A user token is not an LLM token.
    response = await client.post("/api/v1/jobs", json=body, headers={"X-LLM-Token": user_token})
    assert_error(response, 401, "invalid_token")


async def test_unknown_route_and_method(client) -> None:
    assert_error(await client.get("/nope"), 404, "not_found")
    assert_error(await client.put("/auth/login"), 405, "method_not_allowed")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/v1/chat/completions",
            b'{"model": "echo", "messages": [{"role": "user", "content": "hi \\ud800"}]}',
        ),
        (
            "/v1/chat/completions",
            b'{"model": "echo", "messages": [{"role": "user", "content": "hi"}], "stop": "\\udfff"}',
        ),
        ("/api/generate", b'{"model": "echo", "prompt": "\\udc00", "stream": false}'),
        ("/api/chat", b'{"model": "echo", "messages": [{"role": "user", "content": "a\\ud83d"}]}'),
    ],
)
async def test_a_lone_surrogate_in_a_compatible_api_is_a_400_not_a_500(
    client, make_user: UserFactory, redis: Redis, path: str, body: bytes
) -> None:
    # Valid JSON (a \u escape), yet no UTF-8 text holds it: refused before the gate spends anything.
    await make_user()
    token = await scoped_token(client, await login(client), "echo", uses=5)
    headers = {"Authorization": f"Bearer {token}", "content-type": "application/json"}
    response = await client.post(path, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert "not valid Unicode" in response.text and "Traceback" not in response.text
    assert await nothing_queued(redis)
