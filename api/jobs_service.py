"""Starting jobs from HTTP handlers: write the row, commit, and only then send the message."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.broker import dispatch_and_mark, queue_for
from core.errors import Conflict
from core.settings import Settings, get_settings
from core.store.jobs import create_job, get_job, request_hash
from core.store.models import TERMINAL_STATUSES, Job


def start_job(
    session: Session, sessions: sessionmaker[Session], settings: Settings, *, kind: str, **job: Any
) -> tuple[Job, bool]:
    """Create (or find, by idempotency key) a job and dispatch it after the commit. ``job`` are
    ``core.store.jobs.create_job``'s fields: params, owner, idempotency_key, subject_id, body_for_hash."""
    job_row, created = create_job(session, kind=kind, queue=queue_for(kind), **job)
    session.commit()
    if created:
        dispatch_and_mark(settings, sessions, job_row.id, job_row.queue)
        session.refresh(job_row)
        session.commit()  # end the read: the caller may now wait on the job holding no connection
    return job_row, created


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


class WaitSlots:
    """How many requests of this process may wait on a job at once.

    A sync endpoint waits on one of the threadpool's threads (anyio lends 40 per process, shared by
    every sync endpoint and dependency). Unbounded waiters starve everyone else's requests, so beyond
    ``limit`` a request does not wait: it gets the job as it is (the endpoint answers 202 with it).
    """

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self._sem: threading.BoundedSemaphore | None = None
        self._lock = threading.Lock()

    def _semaphore(self) -> threading.BoundedSemaphore:
        with self._lock:
            if self._sem is None:
                limit = self.limit if self.limit is not None else get_settings().max_waiting_requests
                self._sem = threading.BoundedSemaphore(max(0, limit))
            return self._sem

    @contextmanager
    def take(self) -> Iterator[bool]:
        sem = self._semaphore()
        got = sem.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                sem.release()


WAIT_SLOTS = WaitSlots()


def _read_job(sessions: sessionmaker[Session], job_id: str) -> Job:
    with sessions() as session:  # a short session per read: no connection is held between polls
        return get_job(session, job_id)


def wait_for_job(
    sessions: sessionmaker[Session], job_id: str, timeout_s: float, *, slots: WaitSlots | None = None
) -> Job:
    """Poll the job row until it is terminal or the timeout passes; returns the latest row.

    Each poll opens and closes its own session, so the wait holds no database connection; the caller
    must not hold one either (``start_job`` leaves its session without a transaction). At most
    ``max_waiting_requests`` requests wait at once (``WaitSlots``); others get the row at once.
    """
    with (slots or WAIT_SLOTS).take() as may_wait:
        deadline = time.monotonic() + (timeout_s if may_wait else 0.0)
        delay = 0.05
        while True:
            job = _read_job(sessions, job_id)
            if job.status in TERMINAL_STATUSES or time.monotonic() >= deadline:
                return job
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)


async def wait_for_job_async(sessions: sessionmaker[Session], job_id: str, timeout_s: float) -> Job:
    """``wait_for_job`` for an ``async def`` endpoint: each poll borrows a thread for one short read
    and the waits between polls hold neither a thread nor a connection, so it needs no ``WaitSlots``."""
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        job = await anyio.to_thread.run_sync(_read_job, sessions, job_id)
        if job.status in TERMINAL_STATUSES or time.monotonic() >= deadline:
            return job
        await anyio.sleep(delay)
        delay = min(delay * 1.5, 0.5)
