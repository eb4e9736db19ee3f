"""The job state machine on the ``jobs`` table.

Every transition is one conditional UPDATE, so it is atomic on SQLite and PostgreSQL alike:
- claim: queued → running, or running-with-lapsed-lease → running (a dead worker's job), taking a
  lease in the worker's name and counting an attempt;
- heartbeat / progress / finish are *fenced*: they only apply while the caller still holds the
  lease, so a worker that lost its job (it was presumed dead and the job re-claimed) can never
  complete it a second time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound
from core.store.ids import new_id
from core.store.models import TERMINAL_STATUSES, Job, JobEvent
from core.store.subjects import fail_subject


def now() -> datetime:
    return datetime.now(UTC)


def request_hash(kind: str, body: Any) -> str:
    canonical = json.dumps({"kind": kind, "body": body}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def create_job(
    session: Session,
    *,
    kind: str,
    queue: str,
    params: dict[str, Any],
    owner: str,
    subject_id: str | None = None,
    idempotency_key: str | None = None,
    body_for_hash: Any = None,
) -> tuple[Job, bool]:
    """Insert a queued job, or return the one already created under the same idempotency key.

    Returns (job, created). The same key with a different request body is a Conflict.
    """
    digest = request_hash(kind, params if body_for_hash is None else body_for_hash)
    if idempotency_key is not None:
        existing = _by_key(session, owner, idempotency_key)
        if existing is not None:
            return _same_request(existing, digest, idempotency_key), False
    job = Job(
        id=new_id("job"),
        kind=kind,
        queue=queue,
        owner=owner,
        params=params,
        subject_id=subject_id,
        idempotency_key=idempotency_key,
        request_hash=digest,
    )
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:
        # Lost a race with a concurrent request carrying the same key.
        existing = _by_key(session, owner, idempotency_key or "")
        if existing is None:
            raise
        return _same_request(existing, digest, idempotency_key or ""), False
    return job, True


def _by_key(session: Session, owner: str, key: str) -> Job | None:
    return session.scalar(select(Job).where(Job.owner == owner, Job.idempotency_key == key))


def _same_request(job: Job, digest: str, key: str) -> Job:
    if job.request_hash != digest:
        raise Conflict(
            f"Idempotency-Key {key!r} was already used for a different request (job {job.id}); "
            "use a new key for a new request",
            details={"job_id": job.id},
        )
    return job


def get_job(session: Session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job with id {job_id!r}")
    return job


def mark_dispatched(session: Session, job_id: str) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(dispatched_at=now()))


@dataclass(frozen=True)
class Claim:
    job_id: str
    kind: str
    params: dict[str, Any]
    subject_id: str | None
    attempt: int
    worker: str
    owner: str = "anonymous"


def claim_job(
    session: Session, job_id: str, worker: str, lease_seconds: float, max_attempts: int
) -> Claim | None:
    """Take the job if it is queued or its previous worker's lease lapsed. None if not ours to run."""
    t = now()
    claimable = or_(
        Job.status == "queued",
        and_(Job.status == "running", Job.lease_expires_at < t),
    )
    # A job whose workers died max_attempts times is failed instead of tried again.
    exhausted = session.execute(
        update(Job)
        .where(Job.id == job_id, claimable, Job.attempts >= max_attempts)
        .values(
            status="failed",
            error_code="worker_lost",
            error_message=f"the job's worker stopped {max_attempts} times without finishing it; "
            "check the worker logs (memory, time limits) and submit it again",
            finished_at=t,
            updated_at=t,
            lease_owner=None,
        )
    )
    if exhausted.rowcount:  # type: ignore[attr-defined]
        lost = session.get(Job, job_id)
        assert lost is not None
        fail_subject(session, lost.kind, lost.subject_id, "worker_lost", lost.error_message or "")
        session.commit()
        return None
    # A job cancelled while its worker was dead is closed, not resumed.
    closed = session.execute(
        update(Job)
        .where(Job.id == job_id, claimable, Job.cancel_requested.is_(True))
        .values(status="cancelled", finished_at=t, updated_at=t, lease_owner=None)
    )
    if closed.rowcount:  # type: ignore[attr-defined]
        job_row = session.get(Job, job_id)
        assert job_row is not None
        fail_subject(session, job_row.kind, job_row.subject_id, "cancelled", "cancelled by its owner")
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, claimable, Job.cancel_requested.is_(False))
        .values(
            status="running",
            lease_owner=worker,
            lease_expires_at=t + timedelta(seconds=lease_seconds),
            heartbeat_at=t,
            attempts=Job.attempts + 1,
            started_at=t,
            updated_at=t,
            error_code=None,
            error_message=None,
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        session.rollback()
        return None
    job = session.get(Job, job_id)
    assert job is not None
    session.refresh(job)
    session.add(JobEvent(job_id=job_id, attempt=job.attempts, worker=worker, event="claimed"))
    session.commit()
    return Claim(job.id, job.kind, dict(job.params), job.subject_id, job.attempts, worker, job.owner)


def _held(claim: Claim) -> Any:
    return and_(Job.id == claim.job_id, Job.status == "running", Job.lease_owner == claim.worker)


def heartbeat(session: Session, claim: Claim, lease_seconds: float) -> bool:
    """Extend the lease; False if it is no longer ours."""
    t = now()
    res = session.execute(
        update(Job)
        .where(_held(claim))
        .values(lease_expires_at=t + timedelta(seconds=lease_seconds), heartbeat_at=t)
    )
    session.commit()
    return bool(res.rowcount)  # type: ignore[attr-defined]


def report_progress(
    session: Session, claim: Claim, fraction: float, message: str, stage: str | None, lease_seconds: float
) -> tuple[bool, bool]:
    """Record progress (and renew the lease). Returns (still_ours, cancel_requested)."""
    t = now()
    values: dict[str, Any] = {
        "progress": min(max(float(fraction), 0.0), 1.0),
        "message": message,
        "updated_at": t,
        "heartbeat_at": t,
        "lease_expires_at": t + timedelta(seconds=lease_seconds),
    }
    if stage is not None:
        values["stage"] = stage
    res = session.execute(update(Job).where(_held(claim)).values(**values))
    ours = bool(res.rowcount)  # type: ignore[attr-defined]
    if ours:
        session.add(_event(claim, "progress", values["progress"], message))
    session.commit()
    cancel = bool(session.scalar(select(Job.cancel_requested).where(Job.id == claim.job_id)))
    return ours, cancel


def _event(claim: Claim, event: str, progress: float, message: str) -> JobEvent:
    """The ``job_events`` row of a fenced update (the SIGKILL tests count completions from these)."""
    return JobEvent(
        job_id=claim.job_id,
        attempt=claim.attempt,
        worker=claim.worker,
        event=event,
        progress=progress,
        message=message,
    )


def finish_job(
    session: Session,
    claim: Claim,
    status: str,
    *,
    result: dict[str, Any] | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    error_details: dict[str, Any] | None = None,
) -> bool:
    """Move a held job to a terminal status. False (and no change) if the lease was lost."""
    assert status in TERMINAL_STATUSES
    t = now()
    values: dict[str, Any] = {
        "status": status,
        "finished_at": t,
        "updated_at": t,
        "lease_owner": None,
        "lease_expires_at": None,
        "error_code": error_code,
        "error_message": error_message,
        "error_details": error_details,
    }
    if status == "succeeded":
        values["progress"] = 1.0
        values["result"] = result or {}
    res = session.execute(update(Job).where(_held(claim)).values(**values))
    done = bool(res.rowcount)  # type: ignore[attr-defined]
    if done and status != "succeeded":
        fail_subject(session, claim.kind, claim.subject_id, error_code or status, error_message or status)
    if done:
        session.add(_event(claim, status, 1.0 if status == "succeeded" else 0.0, error_message or ""))
    session.commit()
    return done


def request_cancel(session: Session, job_id: str) -> Job:
    """Queued jobs are cancelled at once; running ones stop at their next progress point."""
    job = get_job(session, job_id)
    if job.status in TERMINAL_STATUSES:
        raise Conflict(f"job {job_id} is already {job.status}; only queued or running jobs can be cancelled")
    t = now()
    cancelled = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "queued")
        .values(status="cancelled", cancel_requested=True, finished_at=t, updated_at=t)
    )
    if cancelled.rowcount:  # type: ignore[attr-defined]
        fail_subject(session, job.kind, job.subject_id, "cancelled", "cancelled before it started")
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "running")
        .values(cancel_requested=True, updated_at=t)
    )
    session.commit()
    session.refresh(job)
    return job


@dataclass(frozen=True)
class Resend:
    """A job the reaper should send to the broker again, and why.

    ``reason`` is ``lease_lapsed`` (its worker died), ``undelivered`` (the broker never accepted its
    message) or ``unconsumed`` (the broker accepted it, but no worker took it in time: the message
    may have died with the broker). ``dispatched_at`` is the value the reaper saw, for ``take_resend``.
    """

    job_id: str
    queue: str
    reason: str
    dispatched_at: datetime | None


def requeue_interval(
    created_at: datetime, dispatched_at: datetime, requeue_after_seconds: float, requeue_max_seconds: float
) -> float:
    """Seconds a queued job's last message may wait unconsumed before it is sent again.

    The interval grows with the job's age (at least ``requeue_after_seconds``, at most
    ``requeue_max_seconds``): a job re-sent at ``created + R`` is next due at ``created + 2R``, then
    ``4R``, ``8R``... So a job that is merely waiting behind a long backlog gets a handful of duplicate
    messages (each harmless: only one claim wins), never one per reaper pass.
    """
    age_when_sent = (dispatched_at - created_at).total_seconds()
    return min(max(requeue_after_seconds, age_when_sent), max(requeue_after_seconds, requeue_max_seconds))


def jobs_to_redispatch(
    session: Session,
    undelivered_after_seconds: float = 30.0,
    requeue_after_seconds: float = 60.0,
    requeue_max_seconds: float = 3600.0,
    limit: int = 1000,
) -> list[Resend]:
    """Jobs to send again: running jobs whose lease lapsed (their worker died), queued jobs never
    handed to the broker, and queued jobs whose message was not consumed in time (``requeue_interval``).
    """
    t = now()
    lapsed = select(Job.id, Job.queue).where(Job.status == "running", Job.lease_expires_at < t)
    out = [Resend(job_id, queue, "lease_lapsed", None) for job_id, queue in session.execute(lapsed)]
    undelivered = select(Job.id, Job.queue).where(
        Job.status == "queued",
        Job.dispatched_at.is_(None),
        Job.created_at < t - timedelta(seconds=undelivered_after_seconds),
    )
    out += [Resend(job_id, queue, "undelivered", None) for job_id, queue in session.execute(undelivered)]
    unconsumed = (
        select(Job.id, Job.queue, Job.created_at, Job.dispatched_at)
        .where(Job.status == "queued", Job.dispatched_at < t - timedelta(seconds=requeue_after_seconds))
        .order_by(Job.dispatched_at)
        .limit(limit)
    )
    for job_id, queue, created_at, dispatched_at in session.execute(unconsumed):
        assert dispatched_at is not None  # the query asked for a time before the cutoff
        interval = requeue_interval(created_at, dispatched_at, requeue_after_seconds, requeue_max_seconds)
        if dispatched_at <= t - timedelta(seconds=interval):
            out.append(Resend(job_id, queue, "unconsumed", dispatched_at))
    return out


def take_resend(session: Session, resend: Resend) -> datetime | None:
    """Claim the right to re-send a queued job: one conditional UPDATE moves ``dispatched_at`` to now,
    so of several reapers that saw the job due only one sends it. Returns the new ``dispatched_at``, or
    None if another reaper (or a worker's claim) got there first. Lapsed leases are not taken: a
    claim's conditional UPDATE already makes their duplicates harmless, and they are few.
    """
    if resend.reason == "lease_lapsed":
        return now()
    t = now()
    seen = (
        Job.dispatched_at.is_(None)
        if resend.dispatched_at is None
        else Job.dispatched_at == resend.dispatched_at
    )
    res = session.execute(
        update(Job).where(Job.id == resend.job_id, Job.status == "queued", seen).values(dispatched_at=t)
    )
    session.commit()
    return t if res.rowcount else None  # type: ignore[attr-defined]


def undo_resend(session: Session, resend: Resend, taken_at: datetime) -> None:
    """The broker refused the re-send: put ``dispatched_at`` back so the job stays due."""
    if resend.reason == "lease_lapsed":
        return
    session.execute(
        update(Job)
        .where(Job.id == resend.job_id, Job.dispatched_at == taken_at)
        .values(dispatched_at=resend.dispatched_at)
    )
    session.commit()
