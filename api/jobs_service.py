"""Starting jobs from HTTP handlers: write the row, commit, and only then send the message."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from core.store.jobs import create_job, get_job
from core.store.models import TERMINAL_STATUSES, Job
from worker.dispatch import dispatch_and_mark
from worker.kinds import queue_for


def start_job(
    session: Session,
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    kind: str,
    params: dict[str, Any],
    owner: str,
    idempotency_key: str | None,
    subject_id: str | None = None,
    body_for_hash: Any = None,
) -> tuple[Job, bool]:
    """Create (or find, by idempotency key) a job and dispatch it after the commit."""
    job, created = create_job(
        session,
        kind=kind,
        queue=queue_for(kind),
        params=params,
        owner=owner,
        subject_id=subject_id,
        idempotency_key=idempotency_key,
        body_for_hash=body_for_hash,
    )
    session.commit()
    if created:
        dispatch_and_mark(settings, sessions, job.id, job.queue)
        session.refresh(job)
    return job, created


def wait_for_job(sessions: sessionmaker[Session], job_id: str, timeout_s: float) -> Job:
    """Poll the job row until it is terminal or the timeout passes; returns the latest row."""
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        with sessions() as session:
            job = get_job(session, job_id)
        if job.status in TERMINAL_STATUSES or time.monotonic() >= deadline:
            return job
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
