import time

import jwt
import pytest

from shared.tokens import LLM_TYP, USER_TYP, InvalidToken, TokenService, key_id

KEY = "k" * 40


def service(**kwargs: object) -> TokenService:
    return TokenService(KEY, **kwargs)  # type: ignore[arg-type]


def test_user_token_round_trip() -> None:
    tokens = service()
    token, claims = tokens.issue_user("alice")
    verified = tokens.verify_user(token)
    assert verified == claims
    assert claims.exp - claims.iat == 900


def test_llm_token_carries_its_binding() -> None:
    tokens = service()
    token, _ = tokens.issue_llm("alice", model="echo", max_tokens=32, scopes=["llm:generate"], uses=3)
    claims = tokens.verify_llm(token)
    assert (claims.sub, claims.model, claims.max_tokens, claims.scopes, claims.uses) == (
        "alice",
        "echo",
        32,
        ("llm:generate",),
        3,
    )
    assert claims.exp - claims.iat == 60


def test_the_two_kinds_cannot_stand_in_for_each_other() -> None:
    tokens = service()
    user_token, _ = tokens.issue_user("alice")
    llm_token, _ = tokens.issue_llm("alice", model="echo", max_tokens=1, scopes=["llm:generate"], uses=1)
    with pytest.raises(InvalidToken, match="wrong token type"):
        tokens.verify_llm(user_token)
    with pytest.raises(InvalidToken, match="wrong token type"):
        tokens.verify_user(llm_token)


def test_previous_keys_verify_but_do_not_sign() -> None:
    old = TokenService("o" * 40)
    token, _ = old.issue_user("alice")
    rotated = TokenService(KEY, previous_keys=["o" * 40])
    assert rotated.verify_user(token).sub == "alice"
    fresh, _ = rotated.issue_user("bob")
    assert jwt.get_unverified_header(fresh)["kid"] == key_id(KEY.encode())
    with pytest.raises(InvalidToken, match="unknown key id"):
        TokenService(KEY).verify_user(token)


def test_expired_and_future_tokens_are_refused() -> None:
    tokens = service()
    expired, _ = tokens.issue_user("alice", now=time.time() - 3600)
    with pytest.raises(InvalidToken, match="expired"):
        tokens.verify_user(expired)
    future, _ = tokens.issue_user("alice", now=time.time() + 3600)
    with pytest.raises(InvalidToken, match="not yet valid"):
        tokens.verify_user(future)


# The forged HS512 token is signed with the test key, shorter than PyJWT recommends for SHA-512.
@pytest.mark.filterwarnings("ignore:The HMAC key is .* bytes long")
def test_alg_none_and_foreign_algorithms_are_refused() -> None:
    tokens = service()
    payload = {
        "sub": "alice",
        "jti": "x",
        "iat": int(time.time()),
        "exp": int(time.time()) + 60,
        "aud": "secureai:user",
        "iss": "secureai",
    }
    unsigned = jwt.encode(
        payload, None, algorithm="none", headers={"typ": USER_TYP, "kid": key_id(KEY.encode())}
    )
    with pytest.raises(InvalidToken, match="algorithm not allowed"):
        tokens.verify_user(unsigned)
    hs512 = jwt.encode(
        payload, KEY, algorithm="HS512", headers={"typ": USER_TYP, "kid": key_id(KEY.encode())}
    )
    with pytest.raises(InvalidToken, match="algorithm not allowed"):
        tokens.verify_user(hs512)


def test_missing_claims_and_malformed_llm_claims_are_refused() -> None:
    tokens = service()
    kid = key_id(KEY.encode())
    now = int(time.time())
    base = {
        "sub": "alice",
        "jti": "x",
        "iat": now,
        "exp": now + 60,
        "aud": "secureai:llm",
        "iss": "secureai",
        "ver": 0,
    }
    no_jti = {k: v for k, v in base.items() if k != "jti"}
    token = jwt.encode(no_jti, KEY, algorithm="HS256", headers={"typ": LLM_TYP, "kid": kid})
    with pytest.raises(InvalidToken, match="missing claim jti"):
        tokens.verify_llm(token)
    bad_budget = {**base, "scope": ["llm:generate"], "model": "echo", "max_tokens": "32", "uses": 1}
    token = jwt.encode(bad_budget, KEY, algorithm="HS256", headers={"typ": LLM_TYP, "kid": kid})
    with pytest.raises(InvalidToken, match="max_tokens"):
        tokens.verify_llm(token)


def test_tampered_signature_is_refused() -> None:
    tokens = service()
    token, _ = tokens.issue_user("alice")
    head, body, signature = token.split(".")
    forged = f"{head}.{body}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    with pytest.raises(InvalidToken):
        tokens.verify_user(forged)
    with pytest.raises(InvalidToken):
        tokens.verify_user("not a token")
