"""The Celery application. Importing it must stay cheap: no torch, no core ML modules."""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Queue

from core.settings import Settings, get_settings


def broker_options(settings: Settings) -> dict[str, Any]:
    if settings.is_embedded:
        folder = settings.broker_folder
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        }
    # Redis re-delivers an unacknowledged message after the visibility timeout; it must exceed the
    # longest hard time limit or a long job would be handed to a second worker while it still runs.
    return {"visibility_timeout": settings.task_hard_time_limit_seconds + 3600}


def make_celery(settings: Settings) -> Celery:
    app = Celery("reassembly", broker=settings.resolved_broker_url, include=["worker.tasks"])
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="cpu",
        task_queues=(Queue("cpu"), Queue("gpu")),
        task_time_limit=settings.task_hard_time_limit_seconds,
        task_soft_time_limit=max(60, settings.task_hard_time_limit_seconds - 60),
        broker_transport_options=broker_options(settings),
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    return app


_apps: dict[tuple[str, str], Celery] = {}


def celery_for(settings: Settings) -> Celery:
    """One Celery app per broker (tests run several configurations in one process)."""
    key = (settings.resolved_broker_url, str(settings.broker_folder))
    if key not in _apps:
        _apps[key] = make_celery(settings)
    return _apps[key]


# The worker process's app (``celery -A worker.celery_app``), configured from the environment.
app = celery_for(get_settings())
