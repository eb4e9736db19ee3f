"""The model registry: register (timm name or safetensors upload), list, get, delete, dissect, nodes."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Response, UploadFile
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.blobs import discard_blob, discarded_on_error, store_checked
from api.deps import StoreDep
from api.jobs_service import wait_for_job
from api.owned import BINARY, ScopeDep, owned, resource_routes
from api.schemas import JobOut
from api.schemas_models import NAME_PATTERN, ModelCreate, ModelOut, NodeOut, NodesOut
from api.starting import JobStarter, StarterDep
from api.uploads import read_safetensors_header
from core.errors import Conflict, InvalidInput, StorageFull
from core.limits import MAX_CLASSES, check_input_size
from core.model_kwargs import check_model_kwargs
from core.store.artifacts import ArtifactStore, record_artifact
from core.store.dependents import delete_unused
from core.store.ids import new_id
from core.store.models import Artifact, Job, Model

router = APIRouter(tags=["models"])
resource_routes(router, "models", Model, ModelOut)


def _new_model(session: Session, owner: str, **fields: Any) -> Model:
    existing = session.scalar(select(Model).where(Model.owner == owner, Model.name == fields["name"]))
    if existing is not None:
        raise Conflict(
            f"a model named {fields['name']!r} already exists (id {existing.id}); "
            "choose another name or delete it",
            details={"model_id": existing.id},
        )
    fields.setdefault("mean", [])
    fields.setdefault("std", [])
    model = Model(id=new_id("mdl"), owner=owner, status="pending", **fields)
    session.add(model)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a model named {fields['name']!r} already exists; choose another name") from exc
    return model


def _register(
    jobs: JobStarter, model: Model, body: Any, store: ArtifactStore | None = None
) -> tuple[Model, Job]:
    """Start the registration job and wait for it, holding no database connection meanwhile."""
    job = jobs.start_for(model, "register_model", body)
    model_id, session, sessions = model.id, jobs.session, jobs.sessions
    session.close()
    job = wait_for_job(sessions, job.id, jobs.settings.register_wait_seconds)
    if job.status == "failed":
        # Registration never produced a usable model: free the name, and the uploaded weights' row
        # and blob unless something else uses them; say why.
        row = session.get(Model, model_id)
        if row is not None and row.status != "ready":
            weights = session.get(Artifact, row.weights_artifact_id) if row.weights_artifact_id else None
            delete_unused(session, row, check=False)
            session.commit()
            if weights is not None and store is not None:
                discard_blob(store, session, weights.sha256)
        if job.error_code == StorageFull.code:
            raise StorageFull(job.error_message or "the artifact storage is full", details=job.error_details)
        raise InvalidInput(
            job.error_message or "registration failed", details=job.error_details or {}, code=job.error_code
        )
    ready = session.get(Model, model_id)
    assert ready is not None
    return ready, job


def _out(model: Model, job: Job | None = None, *, response: Response | None = None) -> ModelOut:
    out = ModelOut.model_validate(model)
    out.job = JobOut.model_validate(job) if job is not None else None
    if response is not None:
        response.status_code = 201 if model.status == "ready" else 202
    return out


@router.post("/v1/models", operation_id="create_model", response_model=ModelOut, status_code=201)
def create_model(body: ModelCreate, response: Response, jobs: StarterDep) -> ModelOut:
    """Register a timm architecture. Answers 201 once the registration job has built it (params,
    FLOPs, canonical safetensors weights), or 202 with the job if that takes longer than the wait."""
    replay = jobs.replayed("register_model", body, Model)
    if replay is not None:
        return _out(*replay, response=response)
    model = _new_model(
        jobs.session,
        jobs.owner,
        name=body.name,
        architecture=body.source.timm,
        source="timm",
        pretrained=body.source.pretrained,
        model_kwargs=check_model_kwargs(body.model_kwargs),
        num_classes=body.num_classes or 0,
        input_size=body.input_size or [],
        class_names=body.class_names,
        seed=body.seed,
    )
    return _out(*_register(jobs, model, body), response=response)


@router.post("/v1/models:upload", operation_id="upload_model", response_model=ModelOut, status_code=201)
def upload_model(
    response: Response,
    jobs: StarterDep,
    store: StoreDep,
    weights: Annotated[
        UploadFile,  # format: binary, so the generated client sends a file (it ignores contentMediaType)
        File(description="The weights as a .safetensors file.", json_schema_extra={"format": "binary"}),
    ],
    name: Annotated[str, Form(pattern=NAME_PATTERN)],
    architecture: Annotated[str, Form(description="The timm model name the weights belong to.")],
    num_classes: Annotated[int | None, Form(ge=1, le=MAX_CLASSES)] = None,
    input_size: Annotated[str | None, Form(description='JSON [C, H, W], e.g. "[3, 224, 224]"')] = None,
    model_kwargs: Annotated[str, Form(description="JSON object of timm.create_model arguments")] = "{}",
    class_names: Annotated[str | None, Form(description="JSON list of class names")] = None,
    mean: Annotated[str | None, Form(description="JSON list: per-channel input mean")] = None,
    std: Annotated[str | None, Form(description="JSON list: per-channel input std")] = None,
    metrics: Annotated[str | None, Form(description='JSON object, e.g. {"source_accuracy": 0.91}')] = None,
) -> ModelOut:
    """Register a model from safetensors weights and its architecture. Pickles are refused (415)."""
    kwargs = check_model_kwargs(_json_form("model_kwargs", model_kwargs, dict))
    size = check_input_size(_json_form("input_size", input_size, list)) if input_size else []
    names = _json_form("class_names", class_names, list) if class_names else None
    norm_mean = _json_form("mean", mean, list) if mean else []
    norm_std = _json_form("std", std, list) if std else []
    extra_metrics = _json_form("metrics", metrics, dict) if metrics else {}
    session, owner = jobs.session, jobs.owner
    sha, nbytes, _ = store_checked(
        store, session, weights, jobs.settings.max_weights_bytes, read_safetensors_header
    )
    body = {
        "name": name,
        "architecture": architecture,
        "sha256": sha,
        "kwargs": kwargs,
        "size": size,
        "mean": norm_mean,
        "std": norm_std,
    }
    with discarded_on_error(store, session, sha):  # a 409 (name taken, key reused) keeps no blob
        replay = jobs.replayed("register_model", body, Model)
        if replay is not None:
            return _out(*replay, response=response)
        artifact = record_artifact(
            session,
            sha,
            nbytes,
            owner=owner,
            media_type="application/octet-stream",
            filename=f"{name}.safetensors",
        )
        model = _new_model(
            session,
            owner,
            name=name,
            architecture=architecture,
            source="upload",
            pretrained=False,
            model_kwargs=kwargs,
            num_classes=num_classes or 0,
            input_size=size,
            class_names=names,
            weights_artifact_id=artifact.id,
            mean=norm_mean,
            std=norm_std,
            metrics=extra_metrics,
        )
    return _out(*_register(jobs, model, body, store), response=response)


def _json_form(field: str, raw: str, kind: type) -> Any:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"form field {field!r} must be JSON: {exc}") from exc
    if not isinstance(value, kind):
        raise InvalidInput(f"form field {field!r} must be a JSON {kind.__name__}")
    return value


@router.post(
    "/v1/models/{model_id}/dissect", operation_id="dissect_model", response_model=JobOut, status_code=202
)
def dissect_model(model_id: str, jobs: StarterDep) -> JobOut:
    """Find and verify the model's atomic nodes (a job). GET .../nodes once it succeeded."""
    model = owned(jobs.session, Model, model_id, jobs.owner)
    if model.status != "ready":
        raise Conflict(f"model {model_id} is {model.status}, not ready; wait for its registration job")
    return JobOut.model_validate(jobs.start("dissect", {"model_id": model_id}, model_id))


@router.get("/v1/models/{model_id}/nodes", operation_id="list_model_nodes", response_model=NodesOut)
def list_nodes(model_id: str, scope: ScopeDep) -> NodesOut:
    model = scope.get(Model, model_id)
    if model.dissection_status != "done" or model.dissection is None:
        raise Conflict(
            f"model {model_id} is not dissected (status {model.dissection_status}); "
            f"POST /v1/models/{model_id}/dissect first"
        )
    d = model.dissection
    return NodesOut(
        model_id=model.id,
        input_size=d["input_size"],
        nodes=[NodeOut.model_validate(n) for n in model.nodes],
        stem={"params": d["stem_params"], "flops": d["stem_flops"]},
        head={"params": d["head_params"], "flops": d["head_flops"]},
        total_params=d["total_params"],
        total_flops=d["total_flops"],
        max_abs_error=d["max_abs_error"],
    )


@router.get(
    "/v1/models/{model_id}/weights",
    operation_id="download_model_weights",
    response_class=Response,
    responses=BINARY,
)
def download_weights(model_id: str, scope: ScopeDep) -> Response:
    model = scope.get(Model, model_id)
    missing = f"model {model_id} has no stored weights yet ({model.status})"
    return scope.download(model.weights_artifact_id, f"{model.name}.safetensors", missing)
