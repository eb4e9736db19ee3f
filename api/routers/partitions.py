"""Partitions: K equivalence sets over dissected models (DeRy's cover-set optimisation)."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from api.deps import OwnerDep, SessionDep
from api.owned import binary, owned, resource_routes
from api.pictures import partition_png, similarity_png
from api.schemas import JobOut
from api.schemas_partitions import PartitionAddModel, PartitionCreate, PartitionOut, SetOut
from api.starting import StarterDep
from core.errors import Conflict
from core.store.models import Dataset, Job, Model, PartitionRow

router = APIRouter(tags=["partitions"])


def partition_out(row: PartitionRow, job: Job | None = None) -> PartitionOut:
    out = PartitionOut.of(row, job)
    if row.status == "done" and row.result is not None:
        out.objective = row.result["partition"]["objective"]
        out.restarts_used = row.result["partition"]["restarts"]
        out.sets = [SetOut.model_validate(s) for s in row.result["sets"]]
    return out


resource_routes(router, "partitions", PartitionRow, PartitionOut, out=partition_out, listed=False)


def _check_models(session: Session, model_ids: list[str], owner: str) -> None:
    if len(set(model_ids)) != len(model_ids):
        raise Conflict("model_ids lists a model twice; a partition takes each model once")
    for model_id in model_ids:
        model = owned(session, Model, model_id, owner)
        if model.dissection_status != "done":
            raise Conflict(
                f"model {model_id} ({model.name}) is not dissected; POST /v1/models/{model_id}/dissect first"
            )


@router.post("/v1/partitions", operation_id="create_partition", response_model=PartitionOut, status_code=202)
def create_partition(body: PartitionCreate, jobs: StarterDep) -> PartitionOut:
    """Sketch every model on the probe set, then cut them into K equivalence sets (a job)."""
    replay = jobs.replayed("partition", body, PartitionRow)
    if replay is not None:
        return partition_out(*replay)
    session, owner = jobs.session, jobs.owner
    _check_models(session, body.model_ids, owner)
    dataset = owned(session, Dataset, body.probe_dataset_id, owner)
    if body.probe_images < body.batch_size or dataset.num_images < body.batch_size:
        raise Conflict(
            f"the probe set needs at least one batch of {body.batch_size} images "
            f"(dataset has {dataset.num_images}, probe_images={body.probe_images}); lower batch_size"
        )
    columns = {"model_ids": body.model_ids, "probe_dataset_id": dataset.id}
    return partition_out(*jobs.start_new(PartitionRow, "par", body, **columns))


@router.post(
    "/v1/partitions/{partition_id}/models",
    operation_id="add_partition_model",
    response_model=JobOut,
    status_code=202,
)
def add_model(partition_id: str, body: PartitionAddModel, jobs: StarterDep) -> JobOut:
    """Cut one more model against the existing anchors; only that model is sketched (a job)."""
    session, owner = jobs.session, jobs.owner
    row = owned(session, PartitionRow, partition_id, owner)
    if row.status != "done":
        raise Conflict(f"partition {partition_id} is {row.status}; add models once it is done")
    if body.model_id in row.model_ids:
        raise Conflict(f"model {body.model_id} is already in partition {partition_id}")
    _check_models(session, [body.model_id], owner)
    params = {"partition_id": partition_id, "model_id": body.model_id}
    return JobOut.model_validate(jobs.start("partition_add_model", params, partition_id))


def _done(session: Session, partition_id: str, owner: str) -> dict:
    row = owned(session, PartitionRow, partition_id, owner)
    if row.status != "done" or row.result is None:
        raise Conflict(f"partition {partition_id} is {row.status}; pictures exist once it is done")
    return row.result


PNG = binary("image/png")


def _picture_route(name: str, operation_id: str) -> Any:
    path = f"/v1/partitions/{{partition_id}}/{name}.png"
    return router.get(path, operation_id=operation_id, response_class=Response, responses=PNG)


@_picture_route("similarity", "get_partition_similarity_png")
def similarity_picture(partition_id: str, session: SessionDep, owner: OwnerDep) -> Response:
    """Block similarity S between every block of every model, labelled model/set."""
    result = _done(session, partition_id, owner)
    png = similarity_png(
        np.asarray(result["block_similarity"]),
        result["block_labels"],
        "DeRy block similarity S = CKA(inputs) + CKA(outputs)",
    )
    return Response(png, media_type="image/png")


@_picture_route("partition", "get_partition_png")
def partition_picture(partition_id: str, session: SessionDep, owner: OwnerDep) -> Response:
    """Each model as a bar of nodes coloured by equivalence set."""
    result = _done(session, partition_id, owner)
    p = result["partition"]
    png = partition_png(p["model_names"], result["node_counts"], p["cuts"], p["anchors"])
    return Response(png, media_type="image/png")
