"""Property-based fuzzing of the token parser and the firewall with hypothesis.

Properties: the token parser answers any input with claims or `InvalidToken`, never another exception;
the firewall's normalizer and `Firewall.scan` finish on any text without raising. Adversarial inputs are
long repetitions of what the patterns key on (the shape that makes a backtracking regex explode). The
deadline is a hang guard only, far above any real cost; `secureai bench adversarial` prints timings.

`make test` runs a fixed, derandomized set of examples; `pytest -m slow tests/test_fuzz.py` runs a long
randomized search.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secureai.bench.adversarial import PIECES
from shared.firewall import normalize
from shared.firewall.engine import Firewall
from shared.tokens import (
    ALGORITHM,
    LLM_AUDIENCE,
    LLM_TYP,
    USER_AUDIENCE,
    USER_TYP,
    InvalidToken,
    TokenService,
)

KEY = secrets.token_urlsafe(48)
TOKENS = TokenService(KEY)
FIREWALL = Firewall()
MAX_PROMPT_CHARS = 32 * 1024
HANG_GUARD = timedelta(seconds=10)


def fuzz(examples: int, *, derandomize: bool = True) -> Any:
    return settings(
        max_examples=examples,
        derandomize=derandomize,
        deadline=HANG_GUARD,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


# --- inputs ----------------------------------------------------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
CLAIM_NAMES = ["sub", "jti", "iat", "nbf", "exp", "ver", "aud", "iss", "scope", "model", "max_tokens", "uses"]


def as_json(value: Any) -> bytes:
    # The standard library's encoder: it writes integers of any size, which orjson refuses.
    return json.dumps(value, separators=(",", ":")).encode()


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@st.composite
def claims(draw: st.DrawFn) -> dict[str, Any]:
    """Claims near a real token's: each one kept, dropped or replaced by anything JSON can carry."""
    now = int(time.time())
    real: dict[str, Any] = {
        "sub": "alice",
        "jti": "j",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "ver": 0,
        "aud": draw(st.sampled_from([LLM_AUDIENCE, USER_AUDIENCE])),
        "iss": "secureai",
        "scope": ["llm:generate"],
        "model": "echo",
        "max_tokens": 8,
        "uses": 1,
    }
    for name in CLAIM_NAMES:
        fate = draw(st.sampled_from(["keep", "keep", "drop", "replace"]))
        if fate == "drop":
            del real[name]
        elif fate == "replace":
            real[name] = draw(JSON)
    return real


@st.composite
def signed_tokens(draw: st.DrawFn) -> str:
    """Tokens signed with the real key: only their claims and headers can be wrong."""
    headers = {"typ": draw(st.sampled_from([LLM_TYP, USER_TYP]) | JSON), "kid": TOKENS._signing_kid}
    if draw(st.booleans()):
        headers[draw(st.sampled_from(["kid", "crit", "typ", "x5u", "jku"]))] = draw(JSON)
    return sign({"alg": ALGORITHM, **headers}, draw(claims()))


def sign(header: dict[str, Any], payload: dict[str, Any]) -> str:
    """A JWS with the real key over any header and payload (PyJWT's encoder refuses odd claims)."""
    signing_input = b64(as_json(header)) + "." + b64(as_json(payload))
    signature = hmac.new(KEY.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


@st.composite
def forged_tokens(draw: st.DrawFn) -> str:
    """Three dot-separated parts, each raw bytes, JSON of anything, or a mutation of a real token's part."""
    real = TOKENS.issue_llm("alice", model="echo", max_tokens=8, scopes=["llm:generate"], uses=1)[0].split(
        "."
    )
    parts = []
    for index in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["real", "json", "bytes", "text"]))
        if kind == "real" and index < 3:
            parts.append(real[index])
        elif kind == "json":
            parts.append(b64(as_json(draw(JSON))))
        elif kind == "bytes":
            parts.append(b64(draw(st.binary(max_size=64))))
        else:
            parts.append(draw(st.text(max_size=64)))
    return ".".join(parts)


ANY_TOKEN = st.text(max_size=200) | forged_tokens() | signed_tokens()
ANY_TEXT = st.text(max_size=2000)  # every code point, lone surrogates included
ADVERSARIAL = st.tuples(st.lists(st.sampled_from(PIECES), min_size=1, max_size=8), st.integers(1, 4000)).map(
    lambda drawn: ("".join(drawn[0]) * drawn[1])[:MAX_PROMPT_CHARS]
)
PROMPTS = ANY_TEXT | ADVERSARIAL


# --- properties -------------------------------------------------------------------------------------------
def verify_any(token: str) -> None:
    for verify in (TOKENS.verify_llm, TOKENS.verify_user):
        try:
            verified = verify(token)
        except InvalidToken:
            continue
        # Accepted: then its claims have the types the gate relies on.
        assert (
            isinstance(verified.sub, str)
            and isinstance(verified.exp, int)
            and isinstance(verified.version, int)
        )


def scan_any(text: str) -> None:
    folded = normalize.fold(text)
    normalize.readings(text, folded, set(folded.split()), rot13_hint=True)
    normalize.decode_payloads(text)
    for role in ("user", "admin"):
        result = FIREWALL.scan(text, role=role)
        assert result.action in ("allow", "block", "redact")
        if result.action == "redact":
            assert result.text is not None


@fuzz(400)
@given(token=ANY_TOKEN)
def test_the_token_parser_answers_any_input_with_claims_or_invalid_token(token: str) -> None:
    verify_any(token)


@fuzz(150)
@given(text=PROMPTS)
def test_the_firewall_finishes_on_any_text_without_raising(text: str) -> None:
    scan_any(text)


@pytest.mark.slow
@fuzz(20_000, derandomize=False)
@given(token=ANY_TOKEN)
def test_the_token_parser_long_search(token: str) -> None:
    verify_any(token)


@pytest.mark.slow
@fuzz(3_000, derandomize=False)
@given(text=PROMPTS)
def test_the_firewall_long_search(text: str) -> None:
    scan_any(text)
