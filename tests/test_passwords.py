import asyncio

import pytest

from shared.passwords import Overloaded, PasswordService


def hasher(**kwargs: int) -> PasswordService:
    params = {"time_cost": 1, "memory_cost": 8192, "parallelism": 1, "max_concurrent": 2, "max_waiting": 2}
    params.update(kwargs)
    return PasswordService(**params)


async def test_hash_is_argon2id_and_verifies() -> None:
    service = hasher()
    hashed = await service.hash("s3cret-password")
    assert hashed.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert await service.verify(hashed, "s3cret-password")
    assert not await service.verify(hashed, "wrong")


async def test_unknown_user_is_verified_against_a_dummy_and_refused() -> None:
    assert not await hasher().verify(None, "anything")


async def test_changed_parameters_ask_for_a_rehash() -> None:
    old = await hasher(time_cost=1).hash("pw-pw-pw-pw")
    assert hasher(time_cost=2).needs_rehash(old)
    assert not hasher(time_cost=1).needs_rehash(old)
    assert hasher().needs_rehash("not a hash")


async def test_beyond_the_bound_callers_are_refused_at_once() -> None:
    service = hasher(max_concurrent=1, max_waiting=1, time_cost=3, memory_cost=32768)
    results = await asyncio.gather(*(service.hash("pw-pw-pw-pw") for _ in range(6)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, Overloaded)]
    hashed = [r for r in results if isinstance(r, str)]
    assert len(hashed) == 2 and len(refused) == 4
    with pytest.raises(Overloaded):
        await asyncio.gather(*(service.hash("x" * 12) for _ in range(3)))
