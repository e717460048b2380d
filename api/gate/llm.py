"""`verify_request`: the zero-trust pipeline every LLM request passes before anything is queued.

token integrity -> least privilege -> budget -> rate limit -> firewall -> admit. Each step is a named
function that either returns what the next step needs or raises the refusal; the pipeline writes one
audit record for the outcome, naming the step that decided. Redis unreachable at any step: 503, with
the refusal logged locally.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from redis.exceptions import RedisError

from api.gate.context import RequestContext, deny, record, record_unreachable
from api.metrics import FIREWALL_VERDICTS
from api.services import Services
from shared import keys
from shared.audit import prompt_digest
from shared.catalog import ModelSpec
from shared.errors import (
    BadRequest,
    Forbidden,
    GatewayError,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from shared.firewall import FirewallResult, semantic
from shared.firewall.cache import digest, operator_digest
from shared.firewall.engine import OPERATOR_TURNS, Action
from shared.jobs import GenerationRequest, Message, QueueFull, new_job_id
from shared.quotas import QuotaDecision, QuotaLimits, estimate_prompt_tokens
from shared.tokens import InvalidToken, LLMClaims
from shared.users import User, parse_user

GENERATE_SCOPE = "llm:generate"
QUEUE_FULL_RETRY_S = 5.0


@dataclass(frozen=True)
class Admitted:
    """A request that passed every step and is now queued."""

    job_id: str
    position: int
    user: User
    claims: LLMClaims
    spec: ModelSpec
    request: GenerationRequest
    verdict: FirewallResult
    quota: QuotaDecision
    submitted_at: float

    @property
    def headers(self) -> dict[str, str]:
        """Limit headers every response of an LLM path carries."""
        return self.quota.headers()


async def verify_request(
    services: Services,
    ctx: RequestContext,
    token: str | None,
    model: str,
    request: GenerationRequest,
    *,
    job_id: str | None = None,
) -> Admitted:
    """Run the gate for one LLM request and queue it; raises a `GatewayError` at the first refusal."""
    fields: dict[str, object] = {
        "model": model,
        "requested_tokens": request.max_tokens,
        "prompt_sha": prompt_digest(services.prompt_salt, request.text()),
    }
    step = "token_integrity"
    try:
        claims, user = await check_token(services, token)
        fields["user"] = user.name
        step = "least_privilege"
        check_privilege(user, claims, model)
        step = "budget"
        spec, request = check_budget(services, claims, model, request)
        fields["requested_tokens"] = request.max_tokens
        step = "rate_limit"
        job_id = job_id or new_job_id()
        limits = QuotaLimits.for_user(user, services.settings)
        reserved = estimate_prompt_tokens(request.text()) + request.max_tokens
        quota = await check_quota(services, user, job_id, limits, reserved)
        try:
            step = "firewall"
            verdict, request = await check_firewall(services, request, user=user.name, role=user.role)
            if verdict.categories:
                fields["categories"] = list(verdict.categories)
                fields["firewall_action"] = verdict.action
            step = "admit"
            capacity = await check_capacity(services, spec)
            await record(
                services,
                ctx,
                decision="allow",
                step="admit",
                reason="ok",
                status=202,
                job_id=job_id,
                **fields,
            )
            position = await enqueue(
                services, ctx, user, spec, request, job_id, limits.job_fields(reserved), capacity
            )
        except GatewayError as refused:
            # Refused after admission: give back the reservation (the request itself stays charged) and
            # tell the client where its quotas stand.
            with contextlib.suppress(RedisError, OSError):
                await services.quotas.release(user.name, job_id, limits, tokens=reserved)
            refused.headers = {**quota.headers(), **refused.headers}
            if isinstance(refused, TooManyRequests) and refused.code in ("queue_full", "pool_full"):
                step = "queue"
            raise
        return Admitted(job_id, position, user, claims, spec, request, verdict, quota, time.time())
    except GatewayError as error:
        if isinstance(error, FirewallBlocked):
            fields["categories"] = list(error.verdict.categories)
            fields["scores"] = error.verdict.scores
            if error.verdict.signals:
                fields["signals"] = list(error.verdict.signals)
        await deny(services, ctx, step, error, **fields)
        raise
    except (RedisError, OSError):
        raise record_unreachable(services, ctx, step, **fields) from None


async def check_token(services: Services, token: str | None) -> tuple[LLMClaims, User]:
    """Token integrity: a valid scoped token of an active user, within its allowed number of uses."""
    if not token:
        raise Unauthorized("missing scoped LLM token", code="missing_token")
    try:
        claims = services.tokens.verify_llm(token)
    except InvalidToken as exc:
        raise Unauthorized(exc.public, code="invalid_token", internal=exc.reason) from None
    ttl_ms = max(1000, (claims.exp - int(time.time()) + 5) * 1000)
    used, flat = await services.scripts.use_token(
        keys=[keys.token_uses(claims.jti), keys.user(claims.sub)], args=[claims.uses, ttl_ms]
    )
    raw = dict(zip(flat[::2], flat[1::2], strict=True))
    user = parse_user(claims.sub, raw) if raw else None
    if user is None or not user.token_alive(claims.version):
        raise Unauthorized("token revoked or user inactive", code="invalid_token", internal="user inactive")
    if int(used) < 0:
        raise Unauthorized("token already used", code="token_used", internal=f"more than {claims.uses} uses")
    return claims, user


def check_privilege(user: User, claims: LLMClaims, model: str) -> None:
    """Least privilege: the scope, the model bound in the token, and the user's current rights."""
    if GENERATE_SCOPE not in claims.scopes or GENERATE_SCOPE not in user.scopes:
        raise Forbidden(f"the {GENERATE_SCOPE} scope is required", code="scope_missing")
    if model != claims.model:
        raise Forbidden(f"this token is not valid for model {model}", code="model_not_in_token")
    if not user.allows_model(model):
        raise Forbidden(f"user may not use model {model}", code="model_not_allowed")


def check_budget(
    services: Services, claims: LLMClaims, model: str, request: GenerationRequest
) -> tuple[ModelSpec, GenerationRequest]:
    """Budget: requested max_tokens <= the token's max_tokens <= the model's cap."""
    spec = services.catalog.get(model)
    if spec is None:
        raise NotFound(f"unknown model {model}", code="model_not_found")
    if request.max_tokens <= 0:
        request = replace(request, max_tokens=min(claims.max_tokens, spec.max_tokens))
    if request.max_tokens > spec.max_tokens:
        raise BadRequest(
            f"max_tokens {request.max_tokens} exceeds model {model}'s cap of {spec.max_tokens}",
            code="max_tokens_too_large",
        )
    if request.max_tokens > claims.max_tokens:
        raise Forbidden(
            f"max_tokens {request.max_tokens} exceeds this token's budget of {claims.max_tokens}",
            code="budget_exceeded",
        )
    return spec, request


async def check_quota(
    services: Services, user: User, job_id: str, limits: QuotaLimits, reserved_tokens: int
) -> QuotaDecision:
    """Rate limit: every quota dimension at once, atomic in Redis; all charged or none."""
    decision = await services.quotas.admit(
        user.name, job_id, limits, tokens=reserved_tokens, deadline_s=services.jobs.queued_ttl_s + 3600
    )
    if not decision.allowed:
        dimension = decision.binding or "requests"
        raise TooManyRequests(
            f"quota exceeded: {dimension.replace('_', ' ')}",
            code="rate_limited",
            retry_after=decision.retry_after_s,
            headers=decision.headers(),
            extra={"dimension": dimension},
        )
    return decision


async def enqueue(
    services: Services,
    ctx: RequestContext,
    user: User,
    spec: ModelSpec,
    request: GenerationRequest,
    job_id: str,
    extra: dict[str, str],
    capacity: int,
) -> int:
    """Admit: the job joins its user's queue for the model's pool, unless a queue is full."""
    try:
        _, position = await services.jobs.submit(
            user=user.name,
            model=spec.name,
            pool=spec.pool,
            request=request,
            request_id=ctx.request_id,
            max_queued=int(user.limits.get("max_queued", services.settings.max_queued_per_user)),
            max_queued_pool=services.settings.max_queued_per_pool,
            weight=user.weight,
            job_id=job_id,
            extra=extra,
            capacity=capacity,
        )
    except QueueFull as full:
        whose = f"pool {spec.pool}" if full.pool_wide else "this user"
        raise TooManyRequests(
            f"{full.waiting} jobs already waiting for {whose}; retry later",
            code="pool_full" if full.pool_wide else "queue_full",
            retry_after=QUEUE_FULL_RETRY_S,
        ) from None
    return position


async def scan(
    services: Services,
    text: str,
    *,
    user: str,
    role: str,
    unchecked: tuple[str, ...] = (),
    turn: str = "user",
    operator: str = "",
) -> FirewallResult:
    """The firewall's verdict. The first tier runs here (about a millisecond for 4 KiB); a prompt it is
    unsure of is scanned again with the sentence encoder's second look, which takes milliseconds of
    numerical work, in a thread of its own so that the event loop goes on serving other requests
    meanwhile. `turn` is the chat message's role: on a system message the encoder may clear the first
    tier's verdict, not raise it. `operator` is the request's system messages, which a user message is
    also read against. A text `user` sent before, read the same way, gets the verdict it got then
    (`services.verdicts`): a chat client sends the whole conversation with each turn."""
    key = (user, role, turn, unchecked, operator_digest(operator), digest(text))
    remembered = services.verdicts.get(key)
    if remembered is not None:
        return remembered
    firewall = services.firewall
    verdict = firewall.scan(
        text, role=role, unchecked=unchecked, second_look=False, turn=turn, operator=operator
    )
    if verdict.undecided:
        loop = asyncio.get_running_loop()
        verdict = await loop.run_in_executor(
            SECOND_LOOKS,
            functools.partial(
                firewall.scan, text, role=role, unchecked=unchecked, turn=turn, operator=operator
            ),
        )
    services.verdicts.put(key, verdict)
    return verdict


# Second looks at once per process: each is a few matrix products that release the GIL; more at a time
# would only queue for the same cores. Their threads, started on the first look, allocate from the
# process's one heap rather than a heap each (`semantic.one_heap`: 5 to 11 MiB less resident).
semantic.one_heap()
SECOND_LOOKS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="firewall-second-look")


async def check_firewall(
    services: Services, request: GenerationRequest, *, user: str, role: str
) -> tuple[FirewallResult, GenerationRequest]:
    """Firewall: block hostile prompts; redact what policy says to redact before the prompt is queued."""
    if request.prompt is not None:
        verdict = await scan(services, request.prompt, user=user, role=role)
        _raise_if_blocked(verdict)
        count_verdict(verdict)
        if verdict.action == "redact" and verdict.text is not None:
            request = replace(request, prompt=verdict.text)
        return verdict, request
    trusted = ("injection",) if services.settings.firewall_injection_scope == "user" else ()
    operator = "\n".join(m.content for m in request.messages if m.role in OPERATOR_TURNS)
    verdicts = [
        await scan(
            services,
            message.content,
            user=user,
            role=role,
            unchecked=trusted if message.role == "system" else (),
            turn=message.role,
            operator=operator,
        )
        for message in request.messages
    ]
    for verdict in verdicts:
        _raise_if_blocked(verdict)
    messages = tuple(
        Message(m.role, v.text) if v.action == "redact" and v.text is not None else m
        for m, v in zip(request.messages, verdicts, strict=True)
    )
    categories = tuple(sorted({c for v in verdicts for c in v.categories}))
    scores: dict[str, float] = {}
    for verdict in verdicts:
        for name, score in verdict.scores.items():
            scores[name] = max(score, scores.get(name, 0.0))
    action: Action = "redact" if any(v.action == "redact" for v in verdicts) else "allow"
    count_verdict(FirewallResult(action=action, categories=categories))
    return FirewallResult(action=action, categories=categories, scores=scores), replace(
        request, messages=messages
    )


class FirewallBlocked(BadRequest):
    """The firewall refused the prompt; the client hears the categories, the audit also the scores."""

    code = "firewall_blocked"

    def __init__(self, verdict: FirewallResult) -> None:
        super().__init__(
            "the prompt was blocked by the firewall", extra={"categories": list(verdict.categories)}
        )
        self.verdict = verdict


def count_verdict(verdict: FirewallResult) -> None:
    for category in verdict.categories:
        FIREWALL_VERDICTS.labels(category, verdict.action).inc()


def _raise_if_blocked(verdict: FirewallResult) -> None:
    if verdict.action == "block":
        count_verdict(verdict)
        raise FirewallBlocked(verdict)


async def check_capacity(services: Services, spec: ModelSpec) -> int:
    """Admit only what some live worker can serve, so a request never waits on a dead backend.

    Returns the pool's slots (the submit may hand the job to the pool directly when one is free).
    """
    health = await services.pools.get(spec.pool)
    if health.workers == 0:
        raise ServiceUnavailable(
            f"no worker is serving pool {spec.pool} right now",
            code="pool_unavailable",
            headers={"Retry-After": "5"},
        )
    if not health.serves(spec.name):
        raise ServiceUnavailable(
            f"the backend of model {spec.name} is not answering",
            code="model_unavailable",
            headers={"Retry-After": "15"},
        )
    return health.slots
