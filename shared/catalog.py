"""The model catalog: which names clients may ask for, and which backend and pool serve each.

A TOML file (`SECUREAI_MODELS`, else the packaged `models.toml`) with one `[models."<name>"]` table per
model and optional `[pools.<name>]` tables for per-pool worker settings. Adding a model is a catalog entry.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Backend = Literal["local", "ollama", "openai", "echo"]

POOL_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"


class CatalogError(ValueError):
    """The catalog file is missing, unreadable or invalid."""


class ModelSpec(BaseModel):
    """One model clients can ask for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=MODEL_NAME_PATTERN)
    backend: Backend
    upstream: str = Field(min_length=1)
    pool: str = Field(pattern=POOL_NAME_PATTERN)
    max_tokens: int = Field(ge=1, le=131_072)
    timeout_s: float = Field(gt=0, le=3600)
    # Backend-specific knobs (context size for local models, per-token delay for echo, ...).
    options: dict[str, Any] = Field(default_factory=dict)


class PoolSpec(BaseModel):
    """Worker settings for one pool."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=POOL_NAME_PATTERN)
    concurrency: int | None = Field(default=None, ge=1, le=1024)
    device: int | None = Field(default=None, ge=0)  # NVML device index metered for this pool


@dataclass(frozen=True)
class Catalog:
    """All models and pools, looked up by name."""

    models: dict[str, ModelSpec]
    pools: dict[str, PoolSpec] = field(default_factory=dict)

    def get(self, name: str) -> ModelSpec | None:
        """The model called `name`, or None."""
        return self.models.get(name)

    def pool_names(self) -> list[str]:
        """Every pool some model is served from, in a stable order."""
        return sorted({spec.pool for spec in self.models.values()} | set(self.pools))

    def models_in_pool(self, pool: str) -> list[ModelSpec]:
        """The models a worker of `pool` serves."""
        return [spec for spec in self.models.values() if spec.pool == pool]

    def pool(self, name: str) -> PoolSpec:
        """Settings for pool `name` (defaults when the catalog has no table for it)."""
        return self.pools.get(name) or PoolSpec(name=name)


def default_catalog_path() -> Path:
    """The catalog shipped inside the package."""
    return Path(str(files("shared").joinpath("models.toml")))


def parse_catalog(data: dict[str, Any]) -> Catalog:
    """Build a catalog from parsed TOML, with errors that name the offending entry."""
    raw_models = data.get("models")
    if not isinstance(raw_models, dict) or not raw_models:
        raise CatalogError('the catalog needs at least one [models."<name>"] table')
    models: dict[str, ModelSpec] = {}
    for name, entry in raw_models.items():
        if not isinstance(entry, dict):
            raise CatalogError(f"models.{name}: expected a table")
        try:
            models[name] = ModelSpec(name=name, **entry)
        except ValidationError as exc:
            raise CatalogError(f"models.{name}: {_first_error(exc)}") from None
    pools: dict[str, PoolSpec] = {}
    for name, entry in (data.get("pools") or {}).items():
        if not isinstance(entry, dict):
            raise CatalogError(f"pools.{name}: expected a table")
        try:
            pools[name] = PoolSpec(name=name, **entry)
        except ValidationError as exc:
            raise CatalogError(f"pools.{name}: {_first_error(exc)}") from None
    return Catalog(models=models, pools=pools)


def load_catalog(path: Path | None = None) -> Catalog:
    """Read the catalog at `path`, or the packaged default."""
    path = path or default_catalog_path()
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise CatalogError(f"model catalog not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"model catalog {path} is not valid TOML: {exc}") from None
    return parse_catalog(data)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])
