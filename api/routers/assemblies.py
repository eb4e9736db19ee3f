"""Assemblies: search a partition under a budget, build and rank candidates, download the best."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from api.owned import owned, resource_routes
from api.schemas_assemblies import AssemblyCreate, AssemblyOut
from api.starting import StarterDep
from core.errors import Conflict, InvalidInput
from core.store.models import AssemblyRow, Dataset, Job, Model, PartitionRow

router = APIRouter(tags=["assemblies"])
ASM_ARCHIVE = "The archive: model.safetensors + manifest.json + README.md model card (+ model.onnx)."


def assembly_out(row: AssemblyRow, job: Job | None = None) -> AssemblyOut:
    out = AssemblyOut.of(row, job)
    result = row.result or {}
    out.candidates = result.get("candidates", [])
    out.chosen = out.candidates[result["chosen"]] if out.candidates else None
    for name in ("baseline", "baseline_note", "gain", "recommendation", "pool", "zoo_models", "target"):
        if name in result:
            setattr(out, name, result[name])
    return out


resource_routes(
    router, "assemblies", AssemblyRow, AssemblyOut, out=assembly_out, listed=False, archive=ASM_ARCHIVE
)


def check_budget(session: Session, part: PartitionRow, num_classes: int, body: AssemblyCreate) -> None:
    """Answer an impossible budget now: 422 with the smallest feasible params and FLOPs, or with the
    most donors a candidate of this partition can have."""
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
    sets = len(next(iter(cuts.values()))) if cuts else 0
    if c.min_donors > min(len(cuts), sets):
        raise InvalidInput(
            f"min_donors={c.min_donors} but partition {part.id} has {len(cuts)} models and {sets} "
            f"equivalence sets, so a candidate has at most {min(len(cuts), sets)} donors; "
            "lower min_donors",
            details={"min_donors": c.min_donors, "models": len(cuts), "sets": sets},
        )
    # Latencies are measured by the worker; here only the params/FLOPs bounds can be checked.
    budget = Budget(
        max_params=c.max_params,
        max_flops=c.max_flops,
        min_params=c.min_params,
        min_flops=c.min_flops,
        min_donors=c.min_donors,
    )
    check(assembly_problem(cuts, dissections, num_classes, budget))


@router.post("/v1/assemblies", operation_id="create_assembly", response_model=AssemblyOut, status_code=202)
def create_assembly(body: AssemblyCreate, jobs: StarterDep) -> AssemblyOut:
    """Search the partition's equivalence sets under the budget (a job): a pool of budget-feasible
    chains is built with least-squares stitches and ranked by a whole-network proxy; the finalists are
    trained as asked and the best on validation exported, beside the best zoo model that fits."""
    replay = jobs.replayed("assembly", body, AssemblyRow)
    if replay is not None:
        return assembly_out(*replay)
    session, owner = jobs.session, jobs.owner
    part = owned(session, PartitionRow, body.partition_id, owner)
    if part.status != "done":
        raise Conflict(f"partition {part.id} is {part.status}; assemble once it is done")
    dataset = owned(session, Dataset, body.target_dataset_id, owner)
    if body.heldout_dataset_id is not None:
        heldout = owned(session, Dataset, body.heldout_dataset_id, owner)
        if heldout.num_classes != dataset.num_classes:
            raise InvalidInput(
                f"the held-out dataset has {heldout.num_classes} classes, the target {dataset.num_classes}: "
                "give a test set of the same classes"
            )
    check_budget(session, part, dataset.num_classes, body)
    columns = {"partition_id": part.id, "target_dataset_id": dataset.id}
    return assembly_out(*jobs.start_new(AssemblyRow, "asm", body, **columns))
