"""The job queue's broker side, shared by its producers (the API, the worker's reaper) and its consumer.

Job kinds and the queue each runs on, the Celery app for a broker, and sending a committed job to it.
This is the one module of ``core`` that imports Celery: the API must not import ``worker`` (an
import-linter contract), so what both sides of the queue need lives here.

Nothing happens at import. A Celery app is built the first time a process uses a broker, and the
embedded mode's filesystem-broker folders are created then (or by ``reassembly serve`` when it
starts), never by importing a module.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from celery import Celery
from kombu import Queue
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from core.store.db import session_scope
from core.store.jobs import mark_dispatched

log = logging.getLogger(__name__)

# Light kinds run on the ``cpu`` queue; kinds that run networks go to ``gpu`` so a deployment can
# give them GPU workers. One worker may serve both queues (the embedded mode does).
QUEUE_BY_KIND: dict[str, str] = {
    "canary": "cpu",
    "register_model": "cpu",
    "dissect": "gpu",
    "partition": "gpu",
    "partition_add_model": "gpu",
    "assembly": "gpu",
    "component": "gpu",
    "composition": "gpu",
}

RUN_JOB_TASK = "reassembly.run_job"
BROKER_SUBFOLDERS = ("queue", "processed", "control")


def queue_for(kind: str) -> str:
    return QUEUE_BY_KIND[kind]


def ensure_broker_folders(settings: Settings) -> None:
    """Create the filesystem broker's folders (embedded mode only; kombu does not create them)."""
    if settings.is_embedded:
        for sub in BROKER_SUBFOLDERS:
            (settings.broker_folder / sub).mkdir(parents=True, exist_ok=True)


def broker_options(settings: Settings) -> dict[str, Any]:
    """Transport options for the broker. Pure: creates no folder (see ``ensure_broker_folders``)."""
    if settings.is_embedded:
        folder = settings.broker_folder
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


def make_celery(settings: Settings, *, include: Sequence[str] = ()) -> Celery:
    """A Celery app for the settings' broker; ``include`` names the task modules a worker imports."""
    app = Celery("reassembly", broker=settings.resolved_broker_url, include=list(include))
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
    """The producer's app for a broker, built (and its folders created) on first use.

    One app per broker: tests run several configurations in one process.
    """
    key = (settings.resolved_broker_url, str(settings.broker_folder))
    if key not in _apps:
        ensure_broker_folders(settings)
        _apps[key] = make_celery(settings)
    return _apps[key]


def dispatch(settings: Settings, job_id: str, queue: str) -> bool:
    """Send the run message; False if the broker refused (the reaper re-sends undelivered jobs)."""
    try:
        celery_for(settings).send_task(
            RUN_JOB_TASK, args=[job_id], queue=queue, retry=True, retry_policy={"max_retries": 2}
        )
    except Exception:  # the broker is down: the job stays queued and undelivered
        log.exception("could not send job %s to the broker", job_id)
        return False
    return True


def dispatch_and_mark(settings: Settings, factory: sessionmaker[Session], job_id: str, queue: str) -> bool:
    """Send a committed job and record that the broker took it (``dispatched_at``)."""
    sent = dispatch(settings, job_id, queue)
    if sent:
        with session_scope(factory) as session:
            mark_dispatched(session, job_id)
    return sent
