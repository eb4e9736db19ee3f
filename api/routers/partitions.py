"""Partitions: K equivalence sets over dissected models (DeRy's cover-set optimisation)."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from api.deps import IdempotencyKey, OwnerDep, SessionDep, SessionsDep, SettingsDep
from api.jobs_service import replayed_job, start_job
from api.pictures import partition_png, similarity_png
from api.routers.datasets import get_dataset
from api.routers.models import get_model
from api.schemas import JobOut
from api.schemas_partitions import PartitionAddModel, PartitionCreate, PartitionOut, SetOut
from core.errors import Conflict, NotFound
from core.store.ids import new_id
from core.store.models import Job, PartitionRow

router = APIRouter(tags=["partitions"])


def get_partition(session: Session, partition_id: str, owner: str) -> PartitionRow:
    row = session.get(PartitionRow, partition_id)
    if row is None or row.owner != owner:
        raise NotFound(f"no partition with id {partition_id!r}")
    return row


def partition_out(row: PartitionRow, job: Job | None = None) -> PartitionOut:
    out = PartitionOut.model_validate(row)
    result = row.result or {}
    if row.status == "done":
        out.objective = result["partition"]["objective"]
        out.restarts_used = result["partition"]["restarts"]
        out.sets = [SetOut.model_validate(s) for s in result["sets"]]
    out.error = result.get("error")
    out.job = JobOut.model_validate(job) if job is not None else None
    return out


def _check_models(session: Session, model_ids: list[str], owner: str) -> None:
    if len(set(model_ids)) != len(model_ids):
        raise Conflict("model_ids lists a model twice; a partition takes each model once")
    for model_id in model_ids:
        model = get_model(session, model_id, owner)
        if model.dissection_status != "done":
            raise Conflict(
                f"model {model_id} ({model.name}) is not dissected; POST /v1/models/{model_id}/dissect first"
            )


@router.post("/v1/partitions", operation_id="create_partition", response_model=PartitionOut, status_code=202)
def create_partition(
    body: PartitionCreate,
    response: Response,
    session: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    owner: OwnerDep,
    idempotency_key: IdempotencyKey = None,
) -> PartitionOut:
    """Sketch every model on the probe set, then cut them into K equivalence sets (a job)."""
    replay = replayed_job(session, owner, idempotency_key, "partition", body.model_dump())
    if replay is not None:
        response.status_code = 200
        return partition_out(get_partition(session, replay.subject_id or "", owner), replay)
    _check_models(session, body.model_ids, owner)
    dataset = get_dataset(session, body.probe_dataset_id, owner)
    if body.probe_images < body.batch_size or dataset.num_images < body.batch_size:
        raise Conflict(
            f"the probe set needs at least one batch of {body.batch_size} images "
            f"(dataset has {dataset.num_images}, probe_images={body.probe_images}); lower batch_size"
        )
    config = body.model_dump(exclude={"model_ids", "probe_dataset_id"})
    row = PartitionRow(
        id=new_id("par"), owner=owner, model_ids=body.model_ids, probe_dataset_id=dataset.id, config=config
    )
    session.add(row)
    job, _ = start_job(
        session,
        sessions,
        settings,
        kind="partition",
        params={"partition_id": row.id},
        owner=owner,
        idempotency_key=idempotency_key,
        subject_id=row.id,
        body_for_hash=body.model_dump(),
    )
    return partition_out(row, job)


@router.get("/v1/partitions/{partition_id}", operation_id="get_partition", response_model=PartitionOut)
def read_partition(partition_id: str, session: SessionDep, owner: OwnerDep) -> PartitionOut:
    return partition_out(get_partition(session, partition_id, owner))


@router.post(
    "/v1/partitions/{partition_id}/models",
    operation_id="add_partition_model",
    response_model=JobOut,
    status_code=202,
)
def add_model(
    partition_id: str,
    body: PartitionAddModel,
    response: Response,
    session: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    owner: OwnerDep,
    idempotency_key: IdempotencyKey = None,
) -> JobOut:
    """Cut one more model against the existing anchors; only that model is sketched (a job)."""
    row = get_partition(session, partition_id, owner)
    if row.status != "done":
        raise Conflict(f"partition {partition_id} is {row.status}; add models once it is done")
    if body.model_id in row.model_ids:
        raise Conflict(f"model {body.model_id} is already in partition {partition_id}")
    _check_models(session, [body.model_id], owner)
    job, created = start_job(
        session,
        sessions,
        settings,
        kind="partition_add_model",
        params={"partition_id": partition_id, "model_id": body.model_id},
        owner=owner,
        idempotency_key=idempotency_key,
        subject_id=partition_id,
    )
    if not created:
        response.status_code = 200
    return JobOut.model_validate(job)


def _done(session: Session, partition_id: str, owner: str) -> dict:
    row = get_partition(session, partition_id, owner)
    if row.status != "done" or row.result is None:
        raise Conflict(f"partition {partition_id} is {row.status}; pictures exist once it is done")
    return row.result


PNG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}}
}


@router.get(
    "/v1/partitions/{partition_id}/similarity.png",
    operation_id="get_partition_similarity_png",
    response_class=Response,
    responses=PNG,
)
def similarity_picture(partition_id: str, session: SessionDep, owner: OwnerDep) -> Response:
    """Block similarity S between every block of every model, labelled model/set."""
    result = _done(session, partition_id, owner)
    png = similarity_png(
        np.asarray(result["block_similarity"]),
        result["block_labels"],
        "DeRy block similarity S = CKA(inputs) + CKA(outputs)",
    )
    return Response(png, media_type="image/png")


@router.get(
    "/v1/partitions/{partition_id}/partition.png",
    operation_id="get_partition_png",
    response_class=Response,
    responses=PNG,
)
def partition_picture(partition_id: str, session: SessionDep, owner: OwnerDep) -> Response:
    """Each model as a bar of nodes coloured by equivalence set."""
    result = _done(session, partition_id, owner)
    p = result["partition"]
    png = partition_png(p["model_names"], result["node_counts"], p["cuts"], p["anchors"])
    return Response(png, media_type="image/png")
