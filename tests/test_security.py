"""Hostile tokens and requests, each as its own test with the status it must get (real Redis)."""

import asyncio
import base64
import time
from typing import Any

import httpx
import jwt
import orjson
import pytest
from redis.asyncio import Redis

from api.main import create_app
from shared import keys
from shared.tokens import LLM_AUDIENCE, LLM_TYP, USER_AUDIENCE, USER_TYP, key_id
from shared.users import UserStore
from tests.conftest import Pipeline, UserFactory, login, make_settings, scoped_token

BODY = {"prompt": "hello", "model": "echo", "max_tokens": 8}


def secret(client: httpx.AsyncClient) -> str:
    return str(client.app.state.services.settings.secret_key.get_secret_value())  # type: ignore[attr-defined]


def claims(audience: str = LLM_AUDIENCE, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "alice",
        "jti": f"j{time.monotonic_ns()}",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "aud": audience,
        "iss": "secureai",
        "ver": 0,
    }
    if audience == LLM_AUDIENCE:
        base.update({"scope": ["llm:generate", "jobs:read"], "model": "echo", "max_tokens": 32, "uses": 1})
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def forge(key: str, payload: dict[str, Any], *, typ: str = LLM_TYP, alg: str = "HS256", **header: Any) -> str:
    return jwt.encode(
        payload, key, algorithm=alg, headers={"kid": key_id(key.encode()), "typ": typ, **header}
    )


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


async def submit(client: httpx.AsyncClient, token: str | None) -> httpx.Response:
    headers = {"X-LLM-Token": token} if token is not None else {}
    return await client.post("/api/v1/jobs", json=BODY, headers=headers)


async def mint(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(
        "/auth/scoped-token",
        json={"model": "echo", "max_tokens": 8},
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.fixture(autouse=True)
async def alice(make_user: UserFactory) -> None:
    await make_user("alice", max_tokens=64, max_uses=10)


async def test_no_token(client: httpx.AsyncClient) -> None:
    assert (await submit(client, None)).status_code == 401
    assert (
        await client.post("/auth/scoped-token", json={"model": "echo", "max_tokens": 8})
    ).status_code == 401


async def test_garbage_token(client: httpx.AsyncClient) -> None:
    for garbage in ("garbage", "a.b.c", "e30.e30.", "x" * 9000, "..."):
        assert (await submit(client, garbage)).status_code == 401
        assert (await mint(client, garbage)).status_code == 401


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_alg_none_in_any_case(client: httpx.AsyncClient, alg: str) -> None:
    kid = key_id(secret(client).encode())
    llm = f"{b64({'alg': alg, 'typ': LLM_TYP, 'kid': kid})}.{b64(claims())}."
    user = f"{b64({'alg': alg, 'typ': USER_TYP, 'kid': kid})}.{b64(claims(USER_AUDIENCE))}."
    assert (await submit(client, llm)).status_code == 401
    assert (await mint(client, user)).status_code == 401


async def test_signed_with_a_wrong_key(client: httpx.AsyncClient) -> None:
    wrong = "w" * 48
    token = jwt.encode(
        claims(), wrong, algorithm="HS256", headers={"kid": key_id(secret(client).encode()), "typ": LLM_TYP}
    )
    assert (await submit(client, token)).status_code == 401


async def test_signature_stripped(client: httpx.AsyncClient) -> None:
    token = await scoped_token(client, await login(client))
    head, payload, _ = token.split(".")
    assert (await submit(client, f"{head}.{payload}.")).status_code == 401
    assert (await submit(client, f"{head}.{payload}")).status_code == 401


async def test_expired(client: httpx.AsyncClient) -> None:
    old = int(time.time()) - 3600
    token = forge(secret(client), claims(iat=old, nbf=old, exp=old + 60))
    response = await submit(client, token)
    assert response.status_code == 401 and response.json()["error"]["message"] == "token expired"


async def test_not_yet_valid(client: httpx.AsyncClient) -> None:
    later = int(time.time()) + 3600
    assert (await submit(client, forge(secret(client), claims(nbf=later)))).status_code == 401
    assert (await submit(client, forge(secret(client), claims(iat=later, nbf=None)))).status_code == 401


async def test_wrong_audience(client: httpx.AsyncClient) -> None:
    assert (await submit(client, forge(secret(client), claims(aud="someone-else")))).status_code == 401
    assert (await submit(client, forge(secret(client), claims(aud=USER_AUDIENCE)))).status_code == 401


async def test_wrong_issuer_and_missing_claims(client: httpx.AsyncClient) -> None:
    assert (await submit(client, forge(secret(client), claims(iss="evil")))).status_code == 401
    for missing in ("exp", "iat", "sub", "jti", "aud", "iss"):
        token = forge(secret(client), claims(**{missing: None}))
        assert (await submit(client, token)).status_code == 401, missing


async def test_user_token_as_llm_token(client: httpx.AsyncClient) -> None:
    assert (await submit(client, await login(client))).status_code == 401


async def test_llm_token_as_user_token(client: httpx.AsyncClient) -> None:
    llm = await scoped_token(client, await login(client))
    assert (await mint(client, llm)).status_code == 401
    assert (await client.post("/auth/logout", headers={"Authorization": f"Bearer {llm}"})).status_code == 401


async def test_scope_missing(client: httpx.AsyncClient) -> None:
    token = forge(secret(client), claims(scope=["jobs:read"]))
    response = await submit(client, token)
    assert response.status_code == 403 and response.json()["error"]["code"] == "scope_missing"


async def test_model_not_in_token(client: httpx.AsyncClient) -> None:
    token = await scoped_token(client, await login(client), "echo-slow")
    response = await submit(client, token)
    assert response.status_code == 403 and response.json()["error"]["code"] == "model_not_in_token"


async def test_max_tokens_above_the_tokens(client: httpx.AsyncClient) -> None:
    token = await scoped_token(client, await login(client), max_tokens=4)
    response = await submit(client, token)
    assert response.status_code == 403 and response.json()["error"]["code"] == "budget_exceeded"


async def test_replayed_single_use_token(client: httpx.AsyncClient, pipeline: Pipeline) -> None:
    await pipeline.start("echo")
    token = await scoped_token(client, await login(client), uses=1)
    assert (await submit(client, token)).status_code == 202
    replay = await submit(client, token)
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "token_used"


async def test_revoked_user_token(client: httpx.AsyncClient) -> None:
    token = await login(client)
    assert (
        await client.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 204
    assert (await mint(client, token)).status_code == 401


async def test_disabled_user(client: httpx.AsyncClient, redis: Redis) -> None:
    user_token = await login(client)
    llm_token = await scoped_token(client, user_token)
    await UserStore(redis).set_disabled("alice", True)
    assert (await mint(client, user_token)).status_code == 401
    assert (await submit(client, llm_token)).status_code == 401
    # Re-enabling does not revive tokens issued before the disable.
    await UserStore(redis).set_disabled("alice", False)
    assert (await mint(client, user_token)).status_code == 401


async def test_password_change_ends_sessions(client: httpx.AsyncClient, redis: Redis) -> None:
    user_token = await login(client)
    await UserStore(redis).set_password_hash("alice", "$argon2id$other", end_sessions=True)
    assert (await mint(client, user_token)).status_code == 401


async def test_unknown_kid(client: httpx.AsyncClient) -> None:
    token = forge(secret(client), claims(), kid="0123456789abcdef")
    assert (await submit(client, token)).status_code == 401
    no_kid = jwt.encode(claims(), secret(client), algorithm="HS256", headers={"typ": LLM_TYP})
    assert (await submit(client, no_kid)).status_code == 401


async def test_crit_header(client: httpx.AsyncClient) -> None:
    token = forge(secret(client), claims(), crit=["exp"])
    assert (await submit(client, token)).status_code == 401


async def test_foreign_algorithms(client: httpx.AsyncClient) -> None:
    for alg in ("HS384", "HS512"):
        assert (await submit(client, forge(secret(client) * 2, claims(), alg=alg))).status_code == 401


async def test_token_of_a_deleted_user(client: httpx.AsyncClient, redis: Redis) -> None:
    user_token = await login(client)
    llm_token = await scoped_token(client, user_token)
    await UserStore(redis).delete("alice")
    assert (await mint(client, user_token)).status_code == 401
    assert (await submit(client, llm_token)).status_code == 401


async def test_another_users_token_cannot_read_or_cancel(
    client: httpx.AsyncClient, make_user: UserFactory, pipeline: Pipeline
) -> None:
    await make_user("mallory")
    await pipeline.start("echo")
    job_id = (await submit(client, await scoped_token(client, await login(client)))).json()["job_id"]
    mallory = {"Authorization": f"Bearer {await login(client, 'mallory')}"}
    for method in ("GET", "DELETE"):
        response = await client.request(method, f"/api/v1/jobs/{job_id}", headers=mallory)
        assert response.status_code == 404 and response.json()["error"]["code"] == "job_not_found"


async def test_rate_limit_is_exact_under_1000_concurrent_requests(
    client: httpx.AsyncClient, pipeline: Pipeline, redis: Redis
) -> None:
    await pipeline.start("echo")
    services = client.app.state.services  # type: ignore[attr-defined]
    services.quotas.clock = lambda: 1_800_000_000.0  # a frozen clock: no refill during the burst
    limits = {"rate_limit_requests": 100, "max_queued": 2000, "max_jobs_in_flight": 2000}
    await redis.hset(keys.user("alice"), "limits", orjson.dumps(limits))
    user_token = await login(client)
    tokens = [await scoped_token(client, user_token, uses=10) for _ in range(100)]
    responses = await asyncio.gather(*(submit(client, tokens[i % 100]) for i in range(1000)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(202) == 100
    assert statuses.count(429) == 900
    refused = [r.json()["error"] for r in responses if r.status_code == 429]
    assert {(e["code"], e["dimension"]) for e in refused} == {("rate_limited", "requests")}
    assert (
        await redis.llen(keys.user_queue("echo", "alice")) + await redis.zcard(keys.arq_queue("echo")) <= 100
    )


async def test_redis_down_fails_closed_and_logs_the_refusal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    dead = make_settings(redis_url="redis://127.0.0.1:1/0", audit_sink=f"file:{tmp_path}")
    app = create_app(dead)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            login_response = await http.post("/auth/login", json={"username": "alice", "password": "x" * 12})
            token = forge(dead.secret_key.get_secret_value(), claims())  # type: ignore[union-attr]
            submit_response = await http.post("/api/v1/jobs", json=BODY, headers={"X-LLM-Token": token})
    assert login_response.status_code == 503 and submit_response.status_code == 503
    # The refusals reached the local audit sink, chained, although Redis never answered.
    lines = [line for path in tmp_path.glob("audit-*.jsonl") for line in path.read_bytes().splitlines()]
    refusals = [orjson.loads(line) for line in lines if b'"decision"' in line]
    assert {r["action"] for r in refusals} >= {"auth.login", "jobs.submit"}
    assert all(r["decision"] == "deny" and r["reason"] == "redis_unavailable" for r in refusals)
    assert all(r["w"] and r["seq"] and len(r["h"]) == 64 for r in refusals)


async def test_login_rehashes_a_hash_made_with_old_parameters(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    from shared.passwords import PasswordService

    old = PasswordService(time_cost=2, memory_cost=8192, parallelism=1, max_concurrent=1, max_waiting=0)
    await UserStore(redis).set_password_hash("alice", await old.hash("a long password"), end_sessions=False)
    response = await client.post("/auth/login", json={"username": "alice", "password": "a long password"})
    assert response.status_code == 200
    stored = await redis.hget(keys.user("alice"), "password_hash")
    assert stored is not None and "t=1" in stored  # the test settings' time cost


async def test_logins_are_throttled_per_client_address(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    services.settings.login_attempts_per_client = 5
    statuses = [
        (await client.post("/auth/login", json={"username": f"user{i}", "password": "x" * 12})).status_code
        for i in range(6)
    ]
    assert statuses == [401] * 5 + [429]


async def test_a_login_flood_is_shed_before_any_work_and_summarised(
    redis: Redis, make_user: UserFactory
) -> None:
    settings = make_settings(
        argon2_max_concurrent=1, argon2_max_waiting=1, argon2_time_cost=3, argon2_memory_cost=32768
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            body = {"username": "alice", "password": "wrong password"}
            responses = await asyncio.gather(*(http.post("/auth/login", json=body) for _ in range(8)))
            statuses = sorted(r.status_code for r in responses)
            assert statuses.count(401) == 2 and statuses.count(503) == 6
            shed = next(r for r in responses if r.status_code == 503)
            assert shed.json()["error"]["code"] == "busy" and shed.headers["Retry-After"] == "1"
            await asyncio.sleep(1.3)  # the once-a-second summary
    summaries = [orjson.loads(f["r"]) for _, f in await redis.xrange(keys.AUDIT_STREAM)]
    shed_records = [r for r in summaries if r.get("reason") == "shed"]
    assert sum(r["count"] for r in shed_records) == 6
    assert shed_records[0]["resource"] == "/auth/login" and shed_records[0]["decision"] == "deny"
