"""The FastAPI application. No torch here: heavy work is a job for the workers."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from api.body_limits import BodyLimits
from api.errors import install_error_handlers
from api.routers import artifacts, assemblies, datasets, health, jobs, mda, models, partitions
from core.settings import Settings, get_settings
from core.store.artifacts import LocalArtifactStore
from core.store.db import session_factory
from core.store.migrate import upgrade


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            upgrade(settings.resolved_database_url)
        yield

    app = FastAPI(
        title="Reassembly",
        version="0.1.0",
        description="Dissect pretrained networks into blocks, group alike blocks, reassemble under a budget.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.sessions = session_factory(settings.resolved_database_url)
    app.state.artifacts = LocalArtifactStore(settings.resolved_artifact_root)
    app.state.request_counts = Counter()
    # Auth and body size before any body is read (api/body_limits.py).
    app.add_middleware(BodyLimits, settings=settings)

    @app.middleware("http")
    async def count_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        app.state.request_counts[(request.method, response.status_code)] += 1
        return response

    install_error_handlers(app)
    for module in (health, jobs, models, datasets, partitions, assemblies, mda, artifacts):
        app.include_router(module.router)
    return app
