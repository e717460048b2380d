"""Model backends behind one interface; `build_backend` picks the implementation for a catalog entry."""

from __future__ import annotations

from shared.catalog import Backend as BackendKind
from shared.config import Settings
from worker.backends.base import Backend, BackendError, BackendUnavailable, Chunk


def build_backend(kind: BackendKind, settings: Settings) -> Backend:
    """A backend instance of `kind`, configured from `settings`."""
    if kind == "echo":
        from worker.backends.echo import EchoBackend

        return EchoBackend()
    if kind == "local":
        from worker.backends.local import LocalBackend

        return LocalBackend(settings.secureai_data_dir)
    if kind == "ollama":
        from worker.backends.ollama import OllamaBackend

        return OllamaBackend(settings.ollama_base_url)
    if kind == "openai":
        from worker.backends.openai import OpenAIBackend

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAIBackend(key, settings.openai_base_url)
    raise ValueError(f"unknown backend {kind!r}")


__all__ = ["Backend", "BackendError", "BackendUnavailable", "Chunk", "build_backend"]
