"""The FastAPI application: routes, error handling and the services it holds for its lifetime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.middleware import (
    AdmissionMiddleware,
    BodyLimitMiddleware,
    MetricsMiddleware,
    RequestIdMiddleware,
    SecureHeadersMiddleware,
)
from api.responses import JSONBody
from api.routes import admin, auth, health, jobs, llm, ollama, openai, stream, usage
from api.services import build_services
from api.streaming import EventStreams
from shared.catalog import Catalog, load_catalog
from shared.config import Settings, get_settings


def create_app(settings: Settings | None = None, catalog: Catalog | None = None) -> FastAPI:
    """Build the API for `settings` (the environment's when omitted)."""
    settings = settings or get_settings()
    catalog = catalog or load_catalog(settings.secureai_models)
    services = build_services(settings, catalog)
    streams = EventStreams(settings.redis_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await services.waiter.start()
        summaries = asyncio.create_task(services.audit_sheds_forever())
        try:
            yield
        finally:
            summaries.cancel()
            await streams.close()
            await services.close()

    app = FastAPI(
        title="SecureAI gateway",
        version="0.1.0",
        lifespan=lifespan,
        default_response_class=JSONBody,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.services = services
    app.state.streams = streams
    errors.install(app)
    routers = (
        auth.router,
        jobs.router,
        stream.router,
        llm.router,
        openai.router,
        ollama.router,
        usage.router,
        admin.router,
        health.router,
    )
    for router in routers:
        app.include_router(router)
    # A JSON body may escape each prompt character into up to 6 bytes; anything bigger is refused unread.
    app.add_middleware(BodyLimitMiddleware, max_bytes=max(1 << 20, settings.max_prompt_bytes * 6 + 65536))
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(SecureHeadersMiddleware)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE", "PUT"],
            allow_headers=["Authorization", "Content-Type", "X-LLM-Token", "X-Request-ID"],
        )
    app.add_middleware(RequestIdMiddleware)
    # Outermost: a login beyond what the hashing pool can take is refused before anything else runs.
    login_bound = settings.argon2_max_concurrent + settings.argon2_max_waiting
    app.add_middleware(AdmissionMiddleware, limits={"/auth/login": login_bound}, counter=services.sheds)
    return app


def app_from_environment() -> FastAPI:
    """Factory for `uvicorn --factory api.main:app_from_environment`."""
    from shared import logs

    settings = get_settings()
    logs.configure("api", settings.log_level)
    return create_app(settings)
