"""Assemblies: search a partition under a budget, build and rank candidates, download the best."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from api.deps import IdempotencyKey, OwnerDep, SessionDep, SessionsDep, SettingsDep, StoreDep
from api.downloads import artifact_response
from api.jobs_service import replayed_job, start_job
from api.routers.datasets import get_dataset
from api.routers.partitions import get_partition
from api.schemas import JobOut
from api.schemas_assemblies import AssemblyCreate, AssemblyOut
from core.errors import Conflict, NotFound
from core.store.ids import new_id
from core.store.models import Artifact, AssemblyRow, Job, Model, PartitionRow

router = APIRouter(tags=["assemblies"])


def get_assembly(session: Session, assembly_id: str, owner: str) -> AssemblyRow:
    row = session.get(AssemblyRow, assembly_id)
    if row is None or row.owner != owner:
        raise NotFound(f"no assembly with id {assembly_id!r}")
    return row


def assembly_out(row: AssemblyRow, job: Job | None = None) -> AssemblyOut:
    out = AssemblyOut.model_validate(row)
    result = row.result or {}
    out.candidates = result.get("candidates", [])
    out.chosen = out.candidates[result["chosen"]] if out.candidates else None
    out.model_scores = result.get("model_scores")
    out.training = result.get("training")
    out.error = result.get("error")
    out.checkpoint_available = row.checkpoint_artifact_id is not None
    out.job = JobOut.model_validate(job) if job is not None else None
    return out


def check_budget(session: Session, part: PartitionRow, num_classes: int, body: AssemblyCreate) -> None:
    """Answer an impossible budget now (422 with the smallest feasible params and FLOPs)."""
    from core.assembly.problem import Budget, assembly_problem
    from core.search import check_budget as check
    from core.store.dissections import dissection_of

    assert part.result is not None
    dissections = {}
    for model_id in part.model_ids:
        model = session.get(Model, model_id)
        if model is None:
            raise Conflict(f"model {model_id} of partition {part.id} was deleted; make a new partition")
        dissections[model_id] = dissection_of(model)
    cuts = {
        mid: [tuple(b) for b in part.result["partition"]["cuts"][i]] for i, mid in enumerate(part.model_ids)
    }
    c = body.constraints
    # Latencies are measured by the worker; here only the params/FLOPs bounds can be checked.
    problem = assembly_problem(
        cuts, dissections, num_classes, Budget(c.max_params, c.max_flops, c.min_params)
    )
    check(problem)


@router.post("/v1/assemblies", operation_id="create_assembly", response_model=AssemblyOut, status_code=202)
def create_assembly(
    body: AssemblyCreate,
    response: Response,
    session: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    owner: OwnerDep,
    idempotency_key: IdempotencyKey = None,
) -> AssemblyOut:
    """Search the partition's equivalence sets under the budget (a job): the integer program's top
    candidates are built with least-squares stitches, scored by the proxy, and the best exported."""
    replay = replayed_job(session, owner, idempotency_key, "assembly", body.model_dump())
    if replay is not None:
        response.status_code = 200
        return assembly_out(get_assembly(session, replay.subject_id or "", owner), replay)
    part = get_partition(session, body.partition_id, owner)
    if part.status != "done":
        raise Conflict(f"partition {part.id} is {part.status}; assemble once it is done")
    dataset = get_dataset(session, body.target_dataset_id, owner)
    check_budget(session, part, dataset.num_classes, body)
    row = AssemblyRow(
        id=new_id("asm"),
        owner=owner,
        partition_id=part.id,
        target_dataset_id=dataset.id,
        config=body.model_dump(exclude={"partition_id", "target_dataset_id"}),
    )
    session.add(row)
    job, _ = start_job(
        session,
        sessions,
        settings,
        kind="assembly",
        params={"assembly_id": row.id},
        owner=owner,
        idempotency_key=idempotency_key,
        subject_id=row.id,
        body_for_hash=body.model_dump(),
    )
    return assembly_out(row, job)


@router.get("/v1/assemblies/{assembly_id}", operation_id="get_assembly", response_model=AssemblyOut)
def read_assembly(assembly_id: str, session: SessionDep, owner: OwnerDep) -> AssemblyOut:
    return assembly_out(get_assembly(session, assembly_id, owner))


@router.get(
    "/v1/assemblies/{assembly_id}/checkpoint",
    operation_id="download_assembly_checkpoint",
    response_class=Response,
    responses={200: {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}}},
)
def download_checkpoint(
    assembly_id: str, request: Request, session: SessionDep, store: StoreDep, owner: OwnerDep
) -> Response:
    """The archive: model.safetensors + manifest.json + README.md model card (+ model.onnx)."""
    row = get_assembly(session, assembly_id, owner)
    artifact = session.get(Artifact, row.checkpoint_artifact_id) if row.checkpoint_artifact_id else None
    if artifact is None:
        raise Conflict(f"assembly {assembly_id} is {row.status}; its checkpoint exists once it is done")
    return artifact_response(request, store, artifact, f"{assembly_id}.zip")
