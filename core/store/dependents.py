"""Who depends on a stored resource, and deleting one that nothing depends on.

The one place that knows which rows refer to which (the routers' DELETE endpoints stay thin, and
``core.store.gc`` reads ``ARTIFACT_REFS`` to know which artifact rows are still in use):

- a dataset is used by the partitions that probe it, the assemblies that target it (or hold it out),
  the components cut on it and the compositions scaled on it;
- a partition by its assemblies; a component by the compositions made of it;
- a model by the partitions that list it and the components still being cut from it (a finished
  component is standalone: its archive holds its weights, and deleting the model clears its
  ``model_id``, as the schema says);
- anything by a queued or running job that names it (as its subject or in its parameters).

Sketches are a cache of (model, probe set), not dependents: they go with either. Deleting a row
removes the artifact rows it referred to once no other row refers to them; the blobs on disk are
left to ``core.store.gc`` (another owner's row may share them, and an upload of the same bytes may be
in flight).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from core.errors import Conflict
from core.store.models import (
    NOUNS,
    Artifact,
    AssemblyRow,
    ComponentRow,
    CompositionRow,
    Dataset,
    Job,
    Model,
    PartitionRow,
    Sketch,
)

Deletable = Dataset | PartitionRow | AssemblyRow | ComponentRow | CompositionRow | Model

# Every column that refers to an artifact row: an artifact row none of these name is an orphan.
ARTIFACT_REFS: tuple[InstrumentedAttribute[Any], ...] = (
    Model.weights_artifact_id,
    Dataset.artifact_id,
    Sketch.artifact_id,
    AssemblyRow.checkpoint_artifact_id,
    ComponentRow.checkpoint_artifact_id,
    CompositionRow.checkpoint_artifact_id,
)


@dataclass(frozen=True)
class Dependent:
    kind: str  # partition | assembly | component | composition | job
    id: str
    why: str  # "probes it", "targets it", "queued", ...

    def describe(self) -> str:
        return f"{self.kind} {self.id} ({self.why})"


def _names(value: Any, target: str) -> bool:
    """Whether ``target`` appears anywhere in a job's parameters (ids, lists of ids, nested)."""
    if isinstance(value, str):
        return value == target
    if isinstance(value, dict):
        return any(_names(v, target) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_names(v, target) for v in value)
    return False


def _owned(session: Session, row_type: Any, owner: str, *where: Any) -> list[Any]:
    stmt = select(row_type).where(row_type.owner == owner, *where).order_by(row_type.id)
    return list(session.scalars(stmt))


def dependents(session: Session, row: Deletable) -> list[Dependent]:
    """Everything of the row's owner that still needs ``row``: the reasons a DELETE is refused."""
    owner, rid = row.owner, row.id
    found: list[Dependent] = []

    def add(rows: Iterable[Any], why: str) -> None:
        found.extend(Dependent(NOUNS[type(r)], r.id, why) for r in rows)

    if isinstance(row, Dataset):
        add(_owned(session, PartitionRow, owner, PartitionRow.probe_dataset_id == rid), "probes it")
        assemblies = _owned(session, AssemblyRow, owner)
        add((a for a in assemblies if a.target_dataset_id == rid), "targets it")
        add((a for a in assemblies if (a.config or {}).get("heldout_dataset_id") == rid), "holds it out")
        add(_owned(session, ComponentRow, owner, ComponentRow.dataset_id == rid), "was cut on it")
        add(
            _owned(session, CompositionRow, owner, CompositionRow.scaling_dataset_id == rid),
            "is scaled on it",
        )
    elif isinstance(row, PartitionRow):
        add(_owned(session, AssemblyRow, owner, AssemblyRow.partition_id == rid), "searches it")
    elif isinstance(row, ComponentRow):
        compositions = _owned(session, CompositionRow, owner)
        add((c for c in compositions if rid in (c.component_ids or [])), "is made of it")
    elif isinstance(row, Model):
        partitions = _owned(session, PartitionRow, owner)
        add((p for p in partitions if rid in (p.model_ids or [])), "lists it")
        pending = ComponentRow.status == "pending"
        add(
            _owned(session, ComponentRow, owner, ComponentRow.model_id == rid, pending),
            "is being cut from it",
        )
    active = _owned(session, Job, owner, Job.status.in_(("queued", "running")))
    add((j for j in active if j.subject_id == rid or _names(j.params, rid)), "queued or running on it")
    return found


def refuse_if_used(session: Session, row: Deletable) -> None:
    """409 naming every dependent, with what to do, while anything still needs ``row``."""
    found = dependents(session, row)
    if not found:
        return
    noun = NOUNS[type(row)]
    jobs = [d for d in found if d.kind == "job"]
    rows = [d for d in found if d.kind != "job"]
    advice = []
    if rows:
        advice.append("delete " + ", ".join(f"{d.kind} {d.id}" for d in rows) + " first")
    if jobs:
        advice.append(
            "cancel " + ", ".join(f"job {d.id}" for d in jobs) + " (POST /v1/jobs/{id}/cancel) or wait"
        )
    shown = "; ".join(d.describe() for d in found[:20]) + ("; …" if len(found) > 20 else "")
    raise Conflict(
        f"{noun} {row.id} is in use: {shown}; " + " and ".join(advice) + f", then delete the {noun}",
        details={"dependents": [{"kind": d.kind, "id": d.id, "why": d.why} for d in found]},
    )


def _artifact_ids(session: Session, row: Deletable) -> set[str]:
    ids: set[str | None] = set()
    if isinstance(row, Model):
        ids.add(row.weights_artifact_id)
    elif isinstance(row, Dataset):
        ids.add(row.artifact_id)
    elif not isinstance(row, PartitionRow):  # a partition keeps its result in its row
        ids.add(row.checkpoint_artifact_id)
    if isinstance(row, Model | Dataset):
        column = Sketch.model_id if isinstance(row, Model) else Sketch.dataset_id
        ids.update(session.scalars(select(Sketch.artifact_id).where(column == row.id)))
    return {i for i in ids if i is not None}


def referenced(session: Session, artifact_ids: Iterable[str]) -> set[str]:
    """Those of ``artifact_ids`` that some row still refers to."""
    wanted = list(set(artifact_ids))
    used: set[str] = set()
    if not wanted:
        return used
    for column in ARTIFACT_REFS:
        used.update(session.scalars(select(column).where(column.in_(wanted))))
    return used


def forget_artifacts(session: Session, artifact_ids: Iterable[str]) -> list[str]:
    """Delete the artifact rows of ``artifact_ids`` that nothing refers to any more; returns their ids.

    Each delete runs in a savepoint: a row that a concurrent transaction has just started to refer to
    (PostgreSQL's foreign key refuses the delete) is kept, and gc looks at it again later."""
    ids = set(artifact_ids)
    gone: list[str] = []
    for artifact_id in sorted(ids - referenced(session, ids)):
        try:
            with session.begin_nested():
                session.execute(delete(Artifact).where(Artifact.id == artifact_id))
        except IntegrityError:
            continue
        gone.append(artifact_id)
    return gone


def delete_unused(session: Session, row: Deletable, *, check: bool = True) -> list[str]:
    """Delete ``row`` (refused with 409 while anything depends on it, unless ``check`` is False) with
    its sketches and the artifact rows only it referred to; returns those artifact ids. No commit."""
    if check:
        refuse_if_used(session, row)
    artifacts = _artifact_ids(session, row)
    if isinstance(row, Model):
        session.execute(delete(Sketch).where(Sketch.model_id == row.id))
    elif isinstance(row, Dataset):
        session.execute(delete(Sketch).where(Sketch.dataset_id == row.id))
    session.delete(row)
    session.flush()
    return forget_artifacts(session, artifacts)
