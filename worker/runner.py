"""Run one claimed job: lease heartbeat, progress with cancellation, fenced completion.

This is the only place that turns exceptions into job states:
- ``JobCancelled`` (raised by ``JobContext.progress`` after a cancel request) → cancelled;
- ``ReassemblyError`` → failed with its code and message;
- anything else → failed with ``internal_error`` and the exception text.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.errors import JobCancelled, ReassemblyError
from core.settings import Settings
from core.store.artifacts import ArtifactStore, open_store
from core.store.db import session_factory
from core.store.jobs import Claim, claim_job, finish_job, heartbeat, report_progress

log = logging.getLogger(__name__)

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaseLost(ReassemblyError):
    code = "lease_lost"


@dataclass
class JobContext:
    """What a handler sees: its parameters, the database, the artifact store, and progress."""

    claim: Claim
    settings: Settings
    sessions: sessionmaker[Session]
    artifacts: ArtifactStore
    _lease_lost: threading.Event = field(default_factory=threading.Event)

    @property
    def params(self) -> dict[str, Any]:
        return self.claim.params

    def progress(self, fraction: float, message: str = "", stage: str | None = None) -> None:
        """Record progress; raises JobCancelled if the user cancelled, LeaseLost if we lost the job."""
        if self._lease_lost.is_set():
            raise LeaseLost("this worker's lease on the job lapsed; another worker owns it now")
        with self.sessions() as session:
            ours, cancel = report_progress(
                session, self.claim, fraction, message, stage, self.settings.lease_seconds
            )
        if not ours:
            self._lease_lost.set()
            raise LeaseLost("this worker's lease on the job lapsed; another worker owns it now")
        if cancel:
            raise JobCancelled("the job was cancelled at the user's request")

    def device(self) -> str:
        """The torch device from settings (``auto`` picks CUDA when present; ``cuda`` without a GPU
        fails the job with a reason). Every handler that runs a network calls this once and passes
        the result into core. Imports torch lazily."""
        from core.device import resolve_device

        return str(resolve_device(self.settings.device))


Handler = Callable[[JobContext], dict[str, Any]]


def _heartbeat_loop(ctx: JobContext, stop: threading.Event) -> None:
    interval = max(ctx.settings.lease_seconds / 3.0, 0.2)
    while not stop.wait(interval):
        try:
            with ctx.sessions() as session:
                if not heartbeat(session, ctx.claim, ctx.settings.lease_seconds):
                    ctx._lease_lost.set()
                    return
        except Exception:  # a transient DB error: try again at the next beat
            log.exception("heartbeat failed for job %s", ctx.claim.job_id)


_stores: dict[tuple[object, ...], ArtifactStore] = {}


def _store(settings: Settings) -> ArtifactStore:
    """One artifact store per configuration and process (an S3 client is worth reusing)."""
    key = (
        settings.artifact_url,
        settings.resolved_artifact_root,
        settings.resolved_data_dir,
        settings.artifact_redirect_downloads,
        settings.artifact_presign_seconds,
    )
    if key not in _stores:
        _stores[key] = open_store(settings)
    return _stores[key]


def run_job(job_id: str, settings: Settings, handlers: dict[str, Handler]) -> str:
    """Claim and run ``job_id``; returns what happened (for logs and tests)."""
    sessions = session_factory(settings.resolved_database_url)
    with sessions() as session:
        claim = claim_job(session, job_id, WORKER_NAME, settings.lease_seconds, settings.max_attempts)
    if claim is None:
        return "not-claimed"
    ctx = JobContext(claim, settings, sessions, _store(settings))
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat_loop, args=(ctx, stop), daemon=True)
    beat.start()
    kwargs: dict[str, Any]
    try:
        handler = handlers.get(claim.kind)
        if handler is None:
            raise ReassemblyError(
                f"this worker has no handler for job kind {claim.kind!r}", code="unknown_kind"
            )
        result = handler(ctx)
        outcome, kwargs = "succeeded", {"result": result}
    except JobCancelled as exc:
        outcome = "cancelled"
        kwargs = {"error_code": exc.code, "error_message": exc.message}
    except LeaseLost:
        return "lease-lost"
    except ReassemblyError as exc:
        outcome = "failed"
        kwargs = {"error_code": exc.code, "error_message": exc.message, "error_details": exc.details}
    except Exception as exc:
        log.error("job %s crashed:\n%s", job_id, traceback.format_exc())
        outcome = "failed"
        kwargs = {"error_code": "internal_error", "error_message": f"{type(exc).__name__}: {exc}"}
    finally:
        stop.set()
        beat.join(timeout=5)
    with sessions() as session:
        finished = finish_job(session, claim, outcome, **kwargs)
    return outcome if finished else "lease-lost"
