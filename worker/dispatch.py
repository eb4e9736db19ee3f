"""Hand a committed job to the broker. Called by the API after the job row is committed."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from core.store.db import session_scope
from core.store.jobs import mark_dispatched
from worker.celery_app import celery_for
from worker.kinds import RUN_JOB_TASK

log = logging.getLogger(__name__)


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
    sent = dispatch(settings, job_id, queue)
    if sent:
        with session_scope(factory) as session:
            mark_dispatched(session, job_id)
    return sent
