"""The audit trail: hash chains per writer, HMAC checkpoints, and the request that fails closed."""

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis

from shared import keys
from shared.audit import AuditLog, FileSink, record_hash, verify
from tests.conftest import REDIS_URL, UserFactory, login, scoped_token

KEY = b"k" * 40


@pytest.fixture
async def stream(redis: Redis, tmp_path: Path) -> list[tuple[str, bytes]]:
    """Two writers' interleaved records, closed (with final checkpoints), as stored in Redis."""
    writers = [AuditLog(redis, KEY, writer=f"api:{n}", sink=FileSink(tmp_path, f"api-{n}")) for n in (1, 2)]
    for i in range(30):
        await writers[i % 2].write(writers[i % 2].build(action="jobs.submit", decision="allow", user=f"u{i}"))
    for writer in writers:
        await writer.close()
    return [(entry_id, fields["r"].encode()) for entry_id, fields in await redis.xrange(keys.AUDIT_STREAM)]


def lines_of(entries: list[tuple[str, bytes]]) -> list[dict]:  # type: ignore[type-arg]
    return [orjson.loads(raw) for _, raw in entries]


def test_an_intact_trail_verifies(stream: list[tuple[str, bytes]]) -> None:
    verdict = verify(stream, KEY)
    assert verdict.intact, verdict.problems
    assert verdict.writers == 2 and verdict.records == 32 + 2  # 30 records, a checkpoint each, a closing each
    assert verdict.checkpoints >= 2


def test_a_modified_record_is_caught(stream: list[tuple[str, bytes]]) -> None:
    tampered = list(stream)
    record = orjson.loads(tampered[5][1])
    record["decision"] = "deny"
    tampered[5] = (tampered[5][0], orjson.dumps(record))
    problems = verify(tampered, KEY).problems
    assert any(f"record {record['seq']} was modified" in p and tampered[5][0] in p for p in problems)


def test_a_deleted_record_is_caught(stream: list[tuple[str, bytes]]) -> None:
    gone = orjson.loads(stream[6][1])
    tampered = stream[:6] + stream[7:]
    problems = verify(tampered, KEY).problems
    assert any(f"records {gone['seq']}..{gone['seq']} are missing" in p for p in problems)


def test_an_inserted_record_is_caught(stream: list[tuple[str, bytes]]) -> None:
    forged = orjson.loads(stream[4][1])
    forged.update({"user": "mallory", "decision": "allow"})
    forged["h"] = record_hash(forged)  # well-formed, but it duplicates a sequence number
    tampered = [*stream[:5], ("forged", orjson.dumps(forged)), *stream[5:]]
    assert any("forged" in p for p in verify(tampered, KEY).problems)


def test_a_reordered_record_is_caught(stream: list[tuple[str, bytes]]) -> None:
    tampered = list(stream)
    tampered[2], tampered[8] = tampered[8], tampered[2]
    problems = verify(tampered, KEY).problems
    assert any("out of order" in p for p in problems)


def test_a_rewritten_chain_fails_its_checkpoints(stream: list[tuple[str, bytes]]) -> None:
    # Someone with Redis access but without AUDIT_KEY edits a record and recomputes every hash after it.
    records = lines_of(stream)
    heads: dict[str, str] = {}
    rewritten = []
    for (where, _), record in zip(stream, records, strict=True):
        if record["seq"] == 3 and record["w"] == "api:1":
            record["user"] = "nobody"
        if record["w"] in heads:
            record["prev"] = heads[record["w"]]
        record["h"] = record_hash(record)
        heads[record["w"]] = record["h"]
        rewritten.append((where, orjson.dumps(record)))
    without_key = verify(rewritten, None)
    assert without_key.intact  # the links alone cannot tell
    problems = verify(rewritten, KEY).problems
    assert any("checkpoint" in p and "api:1" in p for p in problems)


async def test_verify_command_on_the_stream_and_on_files(
    redis: Redis, stream: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    env = {**os.environ, "REDIS_URL": REDIS_URL, "AUDIT_KEY": KEY.decode()}
    command = [sys.executable, "-m", "secureai", "audit", "verify"]
    intact = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert intact.returncode == 0 and "intact: 34 records from 2 writer(s)" in intact.stdout
    files = sorted(tmp_path.glob("audit-*.jsonl"))
    from_files = subprocess.run([*command, *(f"--file={f}" for f in files)], env=env, capture_output=True,
                                text=True, timeout=60)  # fmt: skip
    assert from_files.returncode == 0, from_files.stdout
    await redis.xdel(keys.AUDIT_STREAM, stream[10][0])
    tampered = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert tampered.returncode == 1 and "TAMPERED" in tampered.stdout and "missing" in tampered.stdout
    assert "Traceback" not in tampered.stderr


async def test_a_request_whose_audit_record_cannot_be_written_is_refused(
    client, make_user: UserFactory, redis: Redis
) -> None:
    await make_user()
    token = await scoped_token(client, await login(client))

    class BrokenSink:
        def write_lines(self, lines: list[bytes]) -> None:
            raise OSError(28, "No space left on device")

        def close(self) -> None:
            return None

    client.app.state.services.audit.sink = BrokenSink()
    response = await client.post(
        "/api/v1/jobs", json={"prompt": "hi", "model": "echo"}, headers={"X-LLM-Token": token}
    )
    assert response.status_code == 503 and response.json()["error"]["code"] == "audit_unavailable"
    assert not await redis.keys(keys.JOB_PREFIX + "*")  # nothing was queued


async def test_admin_audit_endpoint_filters_and_pages(client, make_user: UserFactory) -> None:
    await make_user("alice")
    await make_user("auditor", scopes=("jobs:read", "admin:audit"))
    for _ in range(3):
        await client.post("/auth/login", json={"username": "alice", "password": "wrong password!"})
    auditor = {"Authorization": f"Bearer {await login(client, 'auditor')}"}
    alice = {"Authorization": f"Bearer {await login(client)}"}
    assert (await client.get("/api/v1/admin/audit", headers=alice)).status_code == 403

    denied = await client.get(
        "/api/v1/admin/audit", params={"user": "alice", "decision": "deny"}, headers=auditor
    )
    assert denied.status_code == 200
    records = denied.json()["records"]
    assert len(records) == 3 and all(
        r["action"] == "auth.login" and r["reason"] == "invalid_credentials" for r in records
    )

    first = (await client.get("/api/v1/admin/audit", params={"limit": 2}, headers=auditor)).json()
    assert len(first["records"]) == 2 and first["next_cursor"]
    second = (await client.get("/api/v1/admin/audit", params={"limit": 2, "cursor": first["next_cursor"]},
                               headers=auditor)).json()  # fmt: skip
    assert {r["id"] for r in first["records"]}.isdisjoint({r["id"] for r in second["records"]})
    assert first["records"][-1]["id"] > second["records"][0]["id"]  # newest first, continuing

    future = (await client.get("/api/v1/admin/audit", params={"since": "2100-01-01T00:00:00+00:00"},
                               headers=auditor)).json()  # fmt: skip
    assert future == {"records": [], "next_cursor": None}
    bad = await client.get("/api/v1/admin/audit", params={"since": "yesterday"}, headers=auditor)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_query"


@pytest.mark.parametrize(
    "value",
    ["inf", "-inf", "nan", "1e400", "-5", "1e30", "99999999999999999999", "0001-01-01T00:00:00+00:00"],
)
async def test_admin_audit_refuses_times_out_of_range(client, make_user: UserFactory, value: str) -> None:
    # Each was a number no stream id can be: a 500 (inf) or a Redis error (negative, huge) before.
    await make_user("auditor", scopes=("jobs:read", "admin:audit"))
    auditor = {"Authorization": f"Bearer {await login(client, 'auditor')}"}
    for name in ("since", "until"):
        bad = await client.get("/api/v1/admin/audit", params={name: value}, headers=auditor)
        assert bad.status_code == 400, (name, value, bad.text)
        assert bad.json()["error"]["code"] == "invalid_query"
