"""Schemathesis over the API's own OpenAPI schema, against the real `secureai api` process.

Every operation of `/openapi.json` gets generated requests, valid (positive) and invalid (negative) for
the schema, sent three ways: without credentials, with bad ones (garbage, or well-formed tokens signed with
another key), and with valid tokens of an admin. What must hold: no answer is a 5xx, every error is JSON,
and without valid credentials no authenticated operation answers 2xx (a schema-valid request gets 401).

`make test` runs a fixed, derandomized handful of examples per operation; `pytest -m slow
tests/test_schema_fuzz.py` runs a long randomized search.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from api.main import create_app
from secureai.stack import Stack
from shared.catalog import load_catalog
from shared.tokens import TokenService
from tests.conftest import CATALOG_PATH, make_settings
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

# The operations, read from the app itself at collection; the tests fetch the served /openapi.json.
LABELS = [
    result.ok().label
    for result in schemathesis.openapi.from_dict(
        create_app(make_settings(), load_catalog(CATALOG_PATH)).openapi()
    ).get_all_operations()
]
PUBLIC = {"POST /auth/login", "GET /api/version", "GET /healthz", "GET /readyz"}
# The compatible APIs take the scoped token as their bearer token.
LLM_BEARER = ("/v1/", "/api/generate", "/api/chat", "/api/tags")
AUTH_HEADERS = {"authorization", "x-llm-token"}
# What an authenticated operation may answer to a request without valid credentials.
REFUSED_UNAUTHENTICATED = {400, 401, 405, 413, 422}
MODES = ("anonymous", "forged", "authorized")
EXAMPLES = 25
LONG_EXAMPLES = 300
SEEN: dict[str, Counter[int]] = {mode: Counter() for mode in MODES}  # printed at the end (pytest -s)


@dataclass
class Api:
    stack: Stack
    schema: Any
    user_token: str
    llm_token: str
    forged: list[str] = field(default_factory=list)

    def operation(self, label: str) -> Any:
        for result in self.schema.get_all_operations():
            if result.ok().label == label:
                return result.ok()
        raise KeyError(label)

    def fresh_user_token(self) -> str:
        with httpx.Client(base_url=self.stack.url, timeout=10) as http:
            return login(http)["Authorization"].removeprefix("Bearer ")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("schema-fuzz")
    server = PrivateRedis(tmp / "redis")
    server.start()
    create_user(server.url, admin=True)
    # Limits out of the way, so that generated requests reach the gate's later steps and the queue.
    env = gateway_env(
        tmp,
        server.url,
        RATE_LIMIT_TOKENS="1000000000",
        LOGIN_ATTEMPTS_PER_CLIENT="1000000",
        LOGIN_ATTEMPTS_PER_USER="1000000",
        LLM_TOKEN_TTL="3600",  # the long run outlasts the default minute of a scoped token
    )
    try:
        with running_stack(env, {"echo": None}, tmp / "logs") as stack:
            with httpx.Client(base_url=stack.url, timeout=10) as http:
                user = login(http)
                llm = mint(http, user, "echo", uses=10_000)["X-LLM-Token"]
            other = TokenService(secrets.token_urlsafe(48))  # right shape, wrong key
            forged = [
                other.issue_user("alice")[0],
                other.issue_llm("alice", model="echo", max_tokens=8, scopes=["llm:generate"], uses=9)[0],
                "garbage",
                llm[:-4] + "AAAA",  # the real scoped token, signature broken
            ]
            schema = schemathesis.openapi.from_url(f"{stack.url}/openapi.json")
            yield Api(stack, schema, user["Authorization"].removeprefix("Bearer "), llm, forged)
            for mode, statuses in SEEN.items():
                print(f"schema fuzz, {mode}: {dict(sorted(statuses.items()))}")
            assert stack.processes["api"].poll() is None
    finally:
        server.stop()
    assert_no_tracebacks(tmp / "logs", "unhandled error")


def credentials(api: Api, label: str, mode: str, pick: int) -> dict[str, str]:
    if mode == "anonymous":
        return {}
    if mode == "forged":
        bad = api.forged[pick % len(api.forged)]
        return {"Authorization": f"Bearer {bad}", "X-LLM-Token": bad}
    path = label.split(" ", 1)[1]
    if path.startswith(LLM_BEARER):
        return {"Authorization": f"Bearer {api.llm_token}"}
    # Logging out kills the token it is given: that call gets a token of its own.
    user_token = api.fresh_user_token() if label == "POST /auth/logout" else api.user_token
    return {"Authorization": f"Bearer {user_token}", "X-LLM-Token": api.llm_token}


def aimed(case: Any, aim: bool) -> Any:
    """Point half the generated bodies at the token's model and budget, so they get past the first checks."""
    if aim and isinstance(case.body, dict):
        if "model" in case.body:
            case.body["model"] = "echo"
        for budget in ("max_tokens", "max_completion_tokens"):
            if budget in case.body:
                case.body[budget] = 8
    return case


def check_operation(api: Api, label: str, mode: str, examples: int, *, derandomize: bool) -> None:
    operation = api.operation(label)
    cases = st.one_of(
        st.tuples(operation.as_strategy(GenerationMode.POSITIVE), st.just(True)),
        st.tuples(operation.as_strategy(GenerationMode.NEGATIVE), st.just(False)),
    )

    @settings(
        max_examples=examples,
        derandomize=derandomize,
        deadline=timedelta(seconds=30),  # a hang guard only
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(drawn=cases, aim=st.booleans(), pick=st.integers(0, 3))
    def check(drawn: tuple[Any, bool], aim: bool, pick: int) -> None:
        case, positive = drawn
        case = aimed(case, aim)
        # Whatever the generator put in the credential headers is replaced by this mode's.
        case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in AUTH_HEADERS}
        response = case.call(base_url=api.stack.url, headers=credentials(api, label, mode, pick), timeout=30)
        status = response.status_code
        SEEN[mode][status] += 1
        where = (
            f"{label} [{mode}, {'positive' if positive else 'negative'}] -> {status}: {response.text[:300]}"
        )
        if label == "GET /readyz" and status == 503:
            return  # while a pool of the catalog has no worker: the readiness answer, not an error
        assert status < 500, where
        if status >= 400:
            content_type = (response.headers.get("content-type") or [""])[0]
            assert content_type.startswith("application/json"), where
            assert "error" in response.json(), where
        if mode != "authorized" and label not in PUBLIC:
            # Refused: for its credentials, or for its shape before any credential is looked at (the
            # schema allows some requests the app's stricter types refuse, such as 8.0 for an integer).
            assert status in REFUSED_UNAUTHENTICATED, where

    check()


# A well-formed request for each authenticated operation: without valid credentials, each must get 401.
WELL_FORMED: dict[str, dict[str, Any]] = {
    "POST /auth/scoped-token": {"json": {"model": "echo", "max_tokens": 8}},
    "POST /auth/logout": {},
    "POST /api/v1/jobs": {"json": {"prompt": "hi", "model": "echo"}},
    "GET /api/v1/jobs/{job_id}": {"path": "/api/v1/jobs/" + "0" * 32},
    "DELETE /api/v1/jobs/{job_id}": {"path": "/api/v1/jobs/" + "0" * 32},
    "POST /api/v1/llm/generate": {"json": {"prompt": "hi", "model": "echo"}},
    "POST /v1/chat/completions": {"json": {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}},
    "GET /v1/models": {},
    "GET /v1/models/{model}": {"path": "/v1/models/echo"},
    "POST /api/generate": {"json": {"model": "echo", "prompt": "hi"}},
    "POST /api/chat": {"json": {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}},
    "GET /api/tags": {},
    "GET /api/v1/usage": {},
    "GET /api/v1/usage/{name}": {"path": "/api/v1/usage/alice"},
    "PUT /api/v1/usage/{name}/limits": {"path": "/api/v1/usage/alice/limits", "json": {"max_queued": 5}},
    "GET /api/v1/admin/audit": {},
}


def test_every_authenticated_operation_refuses_missing_and_bad_credentials(api: Api) -> None:
    assert set(WELL_FORMED) == set(LABELS) - PUBLIC, (
        "an operation of the schema has no well-formed request here"
    )
    with httpx.Client(base_url=api.stack.url, timeout=10) as http:
        for label, request in WELL_FORMED.items():
            method, path = label.split(" ", 1)
            url = request.get("path", path)
            for headers in [
                {},
                *({"Authorization": f"Bearer {bad}", "X-LLM-Token": bad} for bad in api.forged),
            ]:
                response = http.request(method, url, json=request.get("json"), headers=headers)
                assert response.status_code == 401, (label, headers, response.text)
            # ... while the same request with valid credentials is no 401 (the list above is right).
            valid = credentials(api, label, "authorized", 0)
            response = http.request(method, url, json=request.get("json"), headers=valid)
            assert response.status_code != 401, (label, response.text)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("label", LABELS)
def test_schema_driven_requests(api: Api, label: str, mode: str) -> None:
    check_operation(api, label, mode, EXAMPLES, derandomize=True)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("label", LABELS)
def test_schema_driven_requests_long_search(api: Api, label: str, mode: str) -> None:
    check_operation(api, label, mode, LONG_EXAMPLES, derandomize=False)
