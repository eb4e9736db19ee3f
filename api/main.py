"""The FastAPI application. No torch here: heavy work is a job for the workers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import ui
from api.body_limits import BodyLimits
from api.errors import install_error_handlers
from api.metrics import Metrics, RequestMetrics
from api.routers import artifacts, assemblies, datasets, health, jobs, mda, models, partitions
from api.schemas import ERROR_RESPONSES
from core.settings import Settings, get_settings
from core.store.artifacts import open_store
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
    app.state.artifacts = open_store(settings)
    app.state.metrics = Metrics()
    # Auth and body size before any body is read (api/body_limits.py).
    app.add_middleware(BodyLimits, settings=settings)

    app.add_middleware(RequestMetrics, metrics=app.state.metrics)

    install_error_handlers(app)
    for module in (health, jobs, models, datasets, partitions, assemblies, mda, artifacts):
        # every 4xx/5xx is the error envelope; /readyz's 503 is its own HealthOut
        app.include_router(module.router, responses=None if module is health else ERROR_RESPONSES)
    app.include_router(ui.router)  # the web page at /ui (api/ui.py)
    return app
