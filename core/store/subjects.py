"""What an unsuccessful job leaves on the resource it worked on.

Every way a job can end without success — a ``ReassemblyError``, any other exception, a cancel
(queued or running), a worker lost ``max_attempts`` times — goes through ``core.store.jobs``, which
calls :func:`fail_subject` in the same transaction (fenced by the lease where there is one). So a
job and its resource never disagree: no model stays ``pending`` or ``running`` behind a failed job,
and the resource carries the job's reason. Only resources still in their in-progress state are
touched: a resource another job already finished keeps what it has.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from core.store.models import AssemblyRow, ComponentRow, CompositionRow, Model, PartitionRow

ResultRow = PartitionRow | AssemblyRow | ComponentRow | CompositionRow

# Job kind → the JobResult resource it fills (status pending → done | failed, reason in ``result``).
RESULT_ROWS: dict[str, type[ResultRow]] = {
    "partition": PartitionRow,
    "assembly": AssemblyRow,
    "component": ComponentRow,
    "composition": CompositionRow,
}


def fail_subject(session: Session, kind: str, subject_id: str | None, code: str, message: str) -> None:
    """Mark ``subject_id`` failed with the job's reason (no commit: the caller's transaction)."""
    if subject_id is None:
        return
    error: dict[str, Any] = {"code": code, "message": message}
    if kind == "register_model":
        session.execute(
            update(Model).where(Model.id == subject_id, Model.status == "pending").values(status="failed")
        )
    elif kind == "dissect":
        session.execute(
            update(Model)
            .where(Model.id == subject_id, Model.dissection_status == "running")
            .values(dissection_status="failed", dissection={"error": error})
        )
    elif kind in RESULT_ROWS:
        row = RESULT_ROWS[kind]
        session.execute(
            update(row)
            .where(row.id == subject_id, row.status == "pending")
            .values(status="failed", result={"error": error})
        )
