"""Celery tasks: one generic task that runs a job row by id, plus the lapsed-lease reaper."""

from __future__ import annotations

import logging
import threading
import time

from celery import signals

from core.broker import RUN_JOB_TASK, dispatch
from core.settings import get_settings
from core.store.db import engine_for, session_factory
from core.store.jobs import jobs_to_redispatch, mark_dispatched, take_resend, undo_resend
from worker.celery_app import worker_app
from worker.handlers import HANDLERS
from worker.runner import run_job

log = logging.getLogger(__name__)
app = worker_app()


@app.task(name=RUN_JOB_TASK, bind=True, max_retries=5, acks_late=True, reject_on_worker_lost=True)
def run_job_task(self, job_id: str) -> str:
    try:
        return run_job(job_id, get_settings(), HANDLERS)
    except Exception as exc:  # the database was unreachable: retry with backoff, bounded
        log.exception("job %s could not be run", job_id)
        raise self.retry(exc=exc, countdown=min(60, 2 ** (self.request.retries + 1))) from exc


def reap_once() -> int:
    """Re-send jobs whose worker died (lapsed lease), that never reached the broker, or whose message
    no worker took in time (``requeue_after_seconds``; it may have died with the broker). Returns how
    many were sent. Stops at the first refusal: a broker that is down refuses them all."""
    settings = get_settings()
    factory = session_factory(settings.resolved_database_url)
    with factory() as session:
        due = jobs_to_redispatch(
            session,
            requeue_after_seconds=settings.requeue_after_seconds,
            requeue_max_seconds=settings.requeue_max_seconds,
        )
    sent = 0
    for resend in due:
        with factory() as session:
            taken_at = take_resend(session, resend)
        if taken_at is None:  # another worker's reaper re-sent it, or a worker claimed it
            continue
        log.warning("re-dispatching job %s (%s)", resend.job_id, resend.reason.replace("_", " "))
        if not dispatch(settings, resend.job_id, resend.queue):
            with factory() as session:
                undo_resend(session, resend, taken_at)
            break
        if resend.reason == "lease_lapsed":
            with factory() as session:
                mark_dispatched(session, resend.job_id)
                session.commit()
        sent += 1
    return sent


def gc_once() -> None:
    """One garbage-collection pass (core.store.gc) with the default grace period, logged."""
    from core.store.artifacts import open_store
    from core.store.gc import DEFAULT_OLDER_THAN_S, collect

    settings = get_settings()
    with session_factory(settings.resolved_database_url)() as session:
        report = collect(session, open_store(settings), older_than_s=DEFAULT_OLDER_THAN_S)
    if report.rows or report.blobs:
        log.info(
            "gc: %d artifact rows (%d bytes) and %d blobs (%d bytes) collected",
            report.rows, report.row_bytes, report.blobs, report.blob_bytes,
        )  # fmt: skip


def _reaper_loop(stop: threading.Event) -> None:
    settings = get_settings()
    interval, gc_every = settings.reaper_interval_seconds, settings.gc_interval_seconds
    next_gc = time.monotonic() + gc_every
    while not stop.wait(interval):
        try:
            reap_once()
        except Exception:
            log.exception("reaper pass failed")
        if gc_every > 0 and time.monotonic() >= next_gc:
            next_gc = time.monotonic() + gc_every
            try:
                gc_once()
            except Exception:
                log.exception("gc pass failed")


_reaper_stop = threading.Event()


@signals.worker_ready.connect
def _start_reaper(**_: object) -> None:
    threading.Thread(target=_reaper_loop, args=(_reaper_stop,), daemon=True, name="reaper").start()


@signals.worker_shutdown.connect
def _stop_reaper(**_: object) -> None:
    _reaper_stop.set()


@signals.worker_process_init.connect
def _fresh_engines(**_: object) -> None:
    # Connections must not be shared across fork.
    engine_for.cache_clear()
