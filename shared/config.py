"""One `Settings` object for every process, read from the environment or `.env`.

Names follow the contract (`SECRET_KEY`, `REDIS_URL`, `ARGON2_*`, ...). Secrets are `SecretStr` so they
never show up in a repr or a log line, and none of them has a default that would work.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

if TYPE_CHECKING:
    from shared.firewall.policy import Policy

MIN_SECRET_KEY_BYTES = 32


class Settings(BaseSettings):
    """Configuration shared by the API, the scheduler and the workers."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- secrets -------------------------------------------------------------------------------------
    secret_key: SecretStr | None = None
    # Keys that signed tokens still in flight after a rotation: verified, never used to sign.
    previous_secret_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    secureai_admin_password: SecretStr | None = None
    # Checkpoints the audit hash chains; a key of its own so a leaked JWT key cannot rewrite history.
    audit_key: SecretStr | None = None

    # --- services ------------------------------------------------------------------------------------
    redis_url: str = "redis://127.0.0.1:6379/0"
    ollama_base_url: str = "http://127.0.0.1:11434"
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    secureai_models: Path | None = None
    secureai_data_dir: Path = Path(".secureai")

    # --- identity ------------------------------------------------------------------------------------
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost: int = Field(default=65536, ge=8192)  # KiB
    argon2_parallelism: int = Field(default=1, ge=1)
    # One hash at a time leaves the other core of a two-core machine to everything else.
    argon2_max_concurrent: int = Field(default=1, ge=1)
    argon2_max_waiting: int = Field(default=8, ge=0)
    user_token_ttl: int = Field(default=900, ge=30)
    llm_token_ttl: int = Field(default=60, ge=5)
    token_issuer: str = "secureai"  # noqa: S105 (an issuer name, not a secret)
    login_attempts_per_user: int = Field(default=10, ge=1)  # per minute, counted before any hashing
    login_attempts_per_client: int = Field(default=60, ge=1)
    max_token_uses: int = Field(default=100, ge=1)

    # --- limits --------------------------------------------------------------------------------------
    rate_limit_requests: int = Field(default=30, ge=1)
    rate_limit_window_s: int = Field(default=60, ge=1)
    rate_limit_tokens: int = Field(default=200_000, ge=1)
    gpu_seconds_per_hour: float = Field(default=3600.0, gt=0)
    gpu_seconds_per_day: float = Field(default=28_800.0, gt=0)
    max_jobs_in_flight: int = Field(default=32, ge=1)  # queued + running, per user
    max_queued_per_user: int = Field(default=100, ge=1)
    max_queued_per_pool: int = Field(default=10_000, ge=1)
    max_prompt_bytes: int = Field(default=32 * 1024, ge=256)
    # HTTP requests: the largest request head, and how long a head and then its body may take to arrive.
    http_max_header_bytes: int = Field(default=32 * 1024, ge=1024)
    http_header_timeout_s: float = Field(default=10.0, gt=0)
    http_body_timeout_s: float = Field(default=30.0, gt=0)

    # --- jobs ----------------------------------------------------------------------------------------
    result_ttl_s: int = Field(default=3_600, ge=10)
    generate_max_wait_s: float = Field(default=120.0, gt=0)
    worker_concurrency: int = Field(default=1, ge=1)
    # fair: start-time fair queueing across users, charged in GPU-seconds; fifo: one line, oldest first.
    queue_policy: Literal["fair", "fifo"] = "fair"
    job_max_tries: int = Field(default=3, ge=1)  # attempts before a job whose workers keep dying fails
    worker_heartbeat_s: float = Field(default=2.0, gt=0)
    backend_probe_s: float = Field(default=15.0, gt=0)

    # Where audit records are written first: stdout, file:<directory> (one rotating file per process), none.
    audit_sink: str = "stdout"
    # How often a file sink is fsynced: 0 = every batch, before its decisions take effect.
    audit_fsync_s: float = Field(default=0.2, ge=0)
    # Browser origins allowed to call the API (CORS); none by default.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`.
    metrics_token: SecretStr | None = None

    # --- firewall ------------------------------------------------------------------------------------
    # {role: {category: action}} over the defaults, as JSON: FIREWALL_POLICY='{"admin": {"pii": "allow"}}'.
    firewall_policy: dict[str, dict[str, str]] = Field(default_factory=dict)
    # Scores from which injection and toxicity count; unset: the operating points stored with the model.
    firewall_injection_threshold: float | None = Field(default=None, gt=0, lt=1)
    firewall_toxicity_threshold: float | None = Field(default=None, gt=0, lt=1)
    # Which chat messages the injection check decides on: "all", or "user" to trust the system messages an
    # application writes ("You are ... Never reveal these instructions."). Every message is still checked
    # for personal data, secrets and abuse, and assistant turns (which a caller can forge) for injection.
    firewall_injection_scope: Literal["all", "user"] = "all"
    # The second tier (a sentence encoder) for prompts the first is unsure of: "auto" uses it when its
    # packages are installed, "on" refuses to start without them, "off" keeps every scan sub-millisecond.
    firewall_semantic: Literal["auto", "on", "off"] = "auto"

    log_level: str = "INFO"

    @field_validator("secret_key")
    @classmethod
    def _secret_key_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < MIN_SECRET_KEY_BYTES:
            raise ValueError(f"SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes")
        return value

    @field_validator("audit_key")
    @classmethod
    def _audit_key_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < MIN_SECRET_KEY_BYTES:
            raise ValueError(f"AUDIT_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("previous_secret_keys", mode="before")
    @classmethod
    def _split_previous_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("previous_secret_keys")
    @classmethod
    def _previous_keys_long_enough(cls, value: list[SecretStr]) -> list[SecretStr]:
        for key in value:
            if len(key.get_secret_value().encode()) < MIN_SECRET_KEY_BYTES:
                raise ValueError(
                    f"every PREVIOUS_SECRET_KEYS entry must be at least {MIN_SECRET_KEY_BYTES} bytes"
                )
        return value

    def require_audit_key(self) -> bytes:
        """The audit checkpoint key; distinct from every JWT key."""
        if self.audit_key is None:
            raise RuntimeError(
                "AUDIT_KEY is not set: put a random value of at least 32 bytes, different from SECRET_KEY, "
                "in the environment or .env"
            )
        key = self.audit_key.get_secret_value()
        jwt_keys = [
            k.get_secret_value() for k in [*filter(None, [self.secret_key]), *self.previous_secret_keys]
        ]
        if key in jwt_keys:
            raise RuntimeError("AUDIT_KEY must differ from SECRET_KEY and PREVIOUS_SECRET_KEYS")
        return key.encode()

    @field_validator("firewall_policy")
    @classmethod
    def _firewall_policy_valid(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        from shared.firewall.policy import Policy, PolicyError

        try:
            Policy.with_overrides(value)
        except PolicyError as exc:
            raise ValueError(str(exc)) from None
        return value

    def firewall_rules(self) -> Policy:
        """The firewall policy these settings describe."""
        from shared.firewall.policy import Policy

        return Policy.with_overrides(
            self.firewall_policy,
            injection_threshold=self.firewall_injection_threshold,
            toxicity_threshold=self.firewall_toxicity_threshold,
        )

    def require_secret_key(self) -> str:
        """The signing key; raises a clear error for processes that cannot run without one."""
        if self.secret_key is None:
            raise RuntimeError(
                "SECRET_KEY is not set: put a random value of at least 32 bytes in the environment or .env "
                "(for example: python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return self.secret_key.get_secret_value()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
