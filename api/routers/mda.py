"""Model LEGO: task-aware components of a trained classifier, and compositions of components."""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import APIRouter, Path
from sqlalchemy.orm import Session

from api.owned import owned, resource_routes
from api.schemas_mda import ComponentCreate, ComponentOut, CompositionCreate, CompositionOut
from api.starting import StarterDep
from core.errors import Conflict, InvalidInput
from core.store.models import ComponentRow, CompositionRow, Dataset, Job, Model

router = APIRouter(tags=["model-lego"])
Out = TypeVar("Out", ComponentOut, CompositionOut)
ARCHIVE = "The archive: model.safetensors + spec.json + manifest.json + README.md model card."
ComponentId = Annotated[str, Path(max_length=64)]
CompositionId = Annotated[str, Path(max_length=64)]


def component_out(row: ComponentRow, job: Job | None = None) -> ComponentOut:
    return _with_result(ComponentOut.of(row, job), row)


def composition_out(row: CompositionRow, job: Job | None = None) -> CompositionOut:
    return _with_result(CompositionOut.of(row, job), row)


def _with_result(out: Out, row: ComponentRow | CompositionRow) -> Out:
    out.result = row.result if row.status == "done" else None  # a failed one's result is its error
    return out


resource_routes(
    router, "components", ComponentRow, ComponentOut, out=component_out, listed=False, archive=ARCHIVE
)
resource_routes(
    router, "compositions", CompositionRow, CompositionOut, out=composition_out, listed=False, archive=ARCHIVE
)


@router.post("/v1/components", operation_id="create_component", response_model=ComponentOut, status_code=202)
def create_component(body: ComponentCreate, jobs: StarterDep) -> ComponentOut:
    """Disassemble a trained classifier into the component of a class subset (a job): the channels
    and kernels that carry those classes, physically pruned with no training, and only their logits.
    Base vs Disa. accuracy is measured on a held-out split of the dataset."""
    replay = jobs.replayed("component", body, ComponentRow)
    if replay is not None:
        return component_out(*replay)
    session, owner = jobs.session, jobs.owner
    model = owned(session, Model, body.model_id, owner)
    dataset = owned(session, Dataset, body.dataset_id, owner)
    if model.status != "ready":
        raise Conflict(f"model {model.id} is {model.status}, not ready; wait for its registration job")
    problem = body.class_problem(model.num_classes, dataset.num_classes)
    if problem:
        raise InvalidInput(
            problem,
            details={"classes": body.classes, "num_classes": model.num_classes, "model_id": model.id},
        )
    return component_out(*jobs.start_new(ComponentRow, "cmp", body, model_id=model.id, dataset_id=dataset.id))


def _architecture(session: Session, row: ComponentRow) -> str:
    """What a component was cut from: its source model's architecture (or, once that model was
    deleted, the architecture its finished job recorded)."""
    model = session.get(Model, row.model_id) if row.model_id else None
    if model is not None:
        return model.architecture
    return str((row.result or {}).get("architecture", "unknown"))


def check_components(session: Session, rows: list[ComponentRow]) -> None:
    """422 for components alignment padding cannot pair, 409 for one that is not done."""
    archs = {row.id: _architecture(session, row) for row in rows}
    first = rows[0]
    for row in rows[1:]:
        if archs[row.id] != archs[first.id]:
            raise InvalidInput(
                f"component {row.id} comes from a {archs[row.id]!r} model but component {first.id} from a "
                f"{archs[first.id]!r} model; alignment padding pairs layers one to one, so every component "
                "must come from the same architecture",
                details={"architectures": archs},
            )
    for row in rows:
        if row.status != "done":
            raise Conflict(
                f"component {row.id} is {row.status}; compose components once they are done",
                details={"component_id": row.id, "status": row.status},
            )
    owner: dict[int, str] = {}
    for row in rows:
        for label in (row.result or {}).get("class_labels", []):
            if label in owner:
                raise InvalidInput(
                    f"class {label} is served by component {owner[label]} and component {row.id}; each "
                    "class must come from exactly one component (give class_labels to tell them apart)",
                    details={"class": label, "components": [owner[label], row.id]},
                )
            owner[label] = row.id


def check_classes(served: list[int], classes: list[int] | None, dataset: Dataset) -> None:
    """422 for a class order that is not the components' labels, each once, or a scaling dataset
    whose labels cannot include them all."""
    if classes is not None and sorted(classes) != sorted(served):
        missing, unknown = sorted(set(served) - set(classes)), sorted(set(classes) - set(served))
        repeated = sorted({c for c in classes if classes.count(c) > 1})
        raise InvalidInput(
            f"classes must name every label of the components exactly once (they serve {sorted(served)}; "
            f"missing {missing}, unknown {unknown}, repeated {repeated})",
            details={"served": sorted(served), "missing": missing, "unknown": unknown, "repeated": repeated},
        )
    absent = sorted(label for label in served if label >= dataset.num_classes)
    if absent:
        raise InvalidInput(
            f"the scaling dataset {dataset.id} has no images labelled {absent} (its labels go up to "
            f"{dataset.num_classes - 1}); give images of every class the components serve",
            details={"absent": absent},
        )


@router.post(
    "/v1/compositions", operation_id="create_composition", response_model=CompositionOut, status_code=202
)
def create_composition(body: CompositionCreate, jobs: StarterDep) -> CompositionOut:
    """Assemble components of one architecture into one classifier (a job): alignment padding, then
    parameter scaling on a validation split of the scaling dataset; Score1 (and Score2 after
    fine-tuning) on its eval split."""
    replay = jobs.replayed("composition", body, CompositionRow)
    if replay is not None:
        return composition_out(*replay)
    session, owner = jobs.session, jobs.owner
    if len(set(body.component_ids)) != len(body.component_ids):
        raise InvalidInput("component_ids lists a component twice; a composition takes each component once")
    rows = [owned(session, ComponentRow, cid, owner) for cid in body.component_ids]
    dataset = owned(session, Dataset, body.scaling_dataset_id, owner)
    check_components(session, rows)
    served = [label for row in rows for label in (row.result or {}).get("class_labels", [])]
    check_classes(served, body.classes, dataset)
    columns = {"component_ids": list(body.component_ids), "scaling_dataset_id": dataset.id}
    return composition_out(*jobs.start_new(CompositionRow, "cps", body, **columns))
