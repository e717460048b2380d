"""Logins, scoped tokens and logout through the API, on the real Redis."""

import orjson
from redis.asyncio import Redis

from shared import keys
from tests.conftest import PASSWORD, UserFactory, login, scoped_token


async def audit_records(redis: Redis) -> list[dict[str, object]]:
    return [orjson.loads(fields["r"]) for _, fields in await redis.xrange(keys.AUDIT_STREAM)]


async def test_login_issues_a_user_token(client, make_user: UserFactory, redis: Redis) -> None:
    await make_user()
    response = await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    records = await audit_records(redis)
    assert records[-1]["action"] == "auth.login" and records[-1]["decision"] == "allow"
    assert PASSWORD not in str(records)


async def test_bad_password_and_unknown_user_get_the_same_401(client, make_user: UserFactory) -> None:
    await make_user()
    wrong = await client.post("/auth/login", json={"username": "alice", "password": "nope-nope-nope"})
    unknown = await client.post("/auth/login", json={"username": "nobody", "password": "nope-nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {"error": {"code": "invalid_credentials", "message": "invalid username or password"}}
    )


async def test_logins_are_throttled_per_username_before_hashing(client, make_user: UserFactory) -> None:
    await make_user()
    statuses = [
        (await client.post("/auth/login", json={"username": "alice", "password": "wrong-wrong"})).status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429
    throttled = await client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1


async def test_scoped_token_is_bound_and_capped(client, make_user: UserFactory) -> None:
    await make_user(max_tokens=64, max_uses=5)
    user_token = await login(client)
    headers = {"Authorization": f"Bearer {user_token}"}
    ok = await client.post(
        "/auth/scoped-token", json={"model": "echo", "max_tokens": 32, "uses": 2}, headers=headers
    )
    assert ok.status_code == 200
    assert ok.json()["model"] == "echo" and ok.json()["uses"] == 2 and ok.json()["expires_in"] == 60
    assert sorted(ok.json()["scopes"]) == ["jobs:read", "llm:generate"]

    def mint(**body: object) -> object:
        return client.post(
            "/auth/scoped-token", json={"model": "echo", "max_tokens": 8, **body}, headers=headers
        )

    unknown_model = await client.post(
        "/auth/scoped-token", json={"model": "nope", "max_tokens": 8}, headers=headers
    )
    assert unknown_model.status_code == 404 and unknown_model.json()["error"]["code"] == "model_not_found"
    over_model = await client.post(
        "/auth/scoped-token", json={"model": "echo", "max_tokens": 65}, headers=headers
    )
    assert over_model.status_code == 400 and over_model.json()["error"]["code"] == "max_tokens_too_large"
    too_many_uses = await mint(uses=6)
    assert too_many_uses.status_code == 403 and too_many_uses.json()["error"]["code"] == "uses_exceeded"
    admin_scope = await mint(scopes=["llm:generate", "admin:users"])
    assert admin_scope.status_code == 403 and admin_scope.json()["error"]["code"] == "scope_not_allowed"


async def test_scoped_token_respects_the_users_own_limits(client, make_user: UserFactory) -> None:
    await make_user(max_tokens=16, models=("echo",))
    headers = {"Authorization": f"Bearer {await login(client)}"}
    above_user = await client.post(
        "/auth/scoped-token", json={"model": "echo", "max_tokens": 32}, headers=headers
    )
    assert above_user.status_code == 403 and above_user.json()["error"]["code"] == "budget_exceeded"
    other_model = await client.post(
        "/auth/scoped-token", json={"model": "echo-slow", "max_tokens": 8}, headers=headers
    )
    assert other_model.status_code == 403 and other_model.json()["error"]["code"] == "model_not_allowed"


async def test_minting_needs_a_user_token(client, make_user: UserFactory) -> None:
    await make_user()
    llm_token = await scoped_token(client, await login(client))
    for headers in ({}, {"Authorization": "Bearer garbage"}, {"Authorization": f"Bearer {llm_token}"}):
        response = await client.post(
            "/auth/scoped-token", json={"model": "echo", "max_tokens": 8}, headers=headers
        )
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_logout_kills_the_token(client, make_user: UserFactory) -> None:
    await make_user()
    headers = {"Authorization": f"Bearer {await login(client)}"}
    assert (await client.post("/auth/logout", headers=headers)).status_code == 204
    after = await client.post("/auth/scoped-token", json={"model": "echo", "max_tokens": 8}, headers=headers)
    assert after.status_code == 401
