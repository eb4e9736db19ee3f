"""The worker's Celery app (``celery -A worker.celery_app worker``).

Importing this module does nothing: no torch, no core ML modules, no broker folders. The app is built
(and the embedded broker's folders created) on first access to ``app``, which is when a worker boots.
"""

from __future__ import annotations

from functools import cache

from celery import Celery

from core.broker import ensure_broker_folders, make_celery
from core.settings import get_settings


@cache
def worker_app() -> Celery:
    """The worker process's app, configured from the environment; it imports ``worker.tasks``."""
    settings = get_settings()
    ensure_broker_folders(settings)
    return make_celery(settings, include=["worker.tasks"])


def __getattr__(name: str) -> Celery:
    # `celery -A worker.celery_app` looks the app up as the module's attribute `app`.
    if name == "app":
        return worker_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
