"""Starting jobs from HTTP handlers: write the row, commit, and only then send the message."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.broker import dispatch_and_mark, queue_for
from core.errors import Conflict
from core.settings import Settings
from core.store.jobs import create_job, get_job, request_hash
from core.store.models import TERMINAL_STATUSES, Job


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


def replayed_job(session: Session, owner: str, key: str | None, kind: str, body: Any) -> Job | None:
    """The job an earlier request with this Idempotency-Key started (same body), or None.

    Endpoints that create a resource row beside the job call this first, so a replay creates nothing.
    """
    if not key:
        return None
    job = session.scalar(select(Job).where(Job.owner == owner, Job.idempotency_key == key))
    if job is None:
        return None
    if job.kind != kind or job.request_hash != request_hash(kind, body):
        raise Conflict(
            f"Idempotency-Key {key!r} was already used for a different request (job {job.id}); "
            "use a new key for a new request",
            details={"job_id": job.id},
        )
    return job


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
