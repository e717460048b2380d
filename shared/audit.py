"""The audit trail: one JSON record per access decision and per inference outcome.

Records go to a Redis Stream (queryable by every replica) and to the `secureai.audit` logger (JSON
lines for a SIEM). Writing the record is part of the decision: when it cannot be written, the caller
fails closed. Records never hold passwords, tokens, prompts or matched PII; a salted hash of the prompt
lets an investigator match a prompt they already have.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared import keys

logger = logging.getLogger("secureai.audit")

STREAM_MAXLEN = 1_000_000


class AuditUnavailable(Exception):
    """The audit record could not be written; the decision it records must not take effect."""


def prompt_digest(salt: bytes, prompt: str) -> str:
    """A salted hash of a prompt: matches a known prompt, reveals nothing about an unknown one."""
    return hmac.new(salt, prompt.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]


class AuditLog:
    """Writes audit records to Redis and to the log."""

    def __init__(self, redis: Redis, *, maxlen: int = STREAM_MAXLEN) -> None:
        self.redis = redis
        self.maxlen = maxlen

    def build(self, **fields: Any) -> dict[str, Any]:
        """A record with its timestamp; `None` fields are dropped."""
        record = {"ts": round(time.time(), 6)}
        record.update({name: value for name, value in fields.items() if value is not None})
        return record

    async def write(self, record: dict[str, Any]) -> None:
        """Persist one record; raises `AuditUnavailable` when Redis does not take it."""
        line = orjson.dumps(record)
        try:
            await self.redis.xadd(keys.AUDIT_STREAM, {"r": line}, maxlen=self.maxlen, approximate=True)
        except (RedisError, OSError) as exc:
            # The local log still gets the record, so the refusal itself is on file.
            logger.error(line.decode(), extra={"audit_error": type(exc).__name__})
            raise AuditUnavailable(str(type(exc).__name__)) from None
        logger.info(line.decode())

    def write_local(self, record: dict[str, Any]) -> None:
        """Log a record when Redis is unreachable (the decision is then a refusal)."""
        logger.warning(orjson.dumps(record).decode())
