"""Model LEGO jobs: a component of a registered model, a composition of components (core.mda.service).
A failure is written on the component or composition by the job's own finish (core.store.subjects)."""

from __future__ import annotations

from typing import Any

from core.errors import NotFound
from core.progress import scaled
from core.store.models import Artifact, ComponentRow, CompositionRow
from worker.handlers.common import (
    artifact_bytes,
    dataset_arrays,
    detached,
    load_registered,
    model_row,
    store_bytes,
    update_row,
)
from worker.runner import JobContext


def run_component(ctx: JobContext) -> dict[str, Any]:
    from core.mda.jobs import ComponentJob
    from core.mda.service import SourceModel, StoredDataset, build_component

    row = detached(ctx, ComponentRow, ctx.params["component_id"])
    job = ComponentJob.model_validate(row.config)
    device = ctx.device()
    ctx.progress(0.01, "loading the model and the dataset", stage="load")
    if row.model_id is None:
        raise NotFound(f"the source model of component {row.id} was deleted before its job ran")
    model = model_row(ctx, row.model_id)
    sha = detached(ctx, Artifact, model.weights_artifact_id).sha256 if model.weights_artifact_id else None
    source = SourceModel(
        model.id, model.name, model.architecture, model.num_classes, tuple(model.input_size),
        tuple(model.mean), tuple(model.std), dict(model.model_kwargs), sha,
    )  # fmt: skip
    images, labels, dataset = dataset_arrays(ctx, row.dataset_id)
    data = StoredDataset(images, labels, dataset.id, dataset.class_names)
    built = build_component(load_registered(ctx, model), source, data, job, device,
                            scaled(ctx.progress, 0.05, 0.95), f"component-{row.id}")  # fmt: skip
    art = store_bytes(ctx, built.archive, media_type="application/zip", filename=f"{row.id}.zip")
    update_row(ctx, ComponentRow, row.id, status="done", result=built.result, checkpoint_artifact_id=art)
    return {"component_id": row.id, "params_after": built.result["params_after"], "device": device}


def run_composition(ctx: JobContext) -> dict[str, Any]:
    from core.mda.jobs import CompositionJob
    from core.mda.service import StoredDataset, build_composition

    row = detached(ctx, CompositionRow, ctx.params["composition_id"])
    job = CompositionJob.model_validate(row.config)
    device = ctx.device()
    ctx.progress(0.01, "loading the components and the scaling dataset", stage="load")
    parts = [detached(ctx, ComponentRow, cid) for cid in row.component_ids]
    missing = [p.id for p in parts if p.checkpoint_artifact_id is None]
    if missing:
        raise NotFound(f"components {missing} have no checkpoint (not done, or deleted meanwhile)")
    archives = [artifact_bytes(ctx, p.checkpoint_artifact_id or "") for p in parts]
    images, labels, dataset = dataset_arrays(ctx, row.scaling_dataset_id)
    data = StoredDataset(images, labels, dataset.id, dataset.class_names)
    built = build_composition(archives, row.component_ids, data, job, device,
                              scaled(ctx.progress, 0.05, 0.95), f"composition-{row.id}")  # fmt: skip
    art = store_bytes(ctx, built.archive, media_type="application/zip", filename=f"{row.id}.zip")
    update_row(ctx, CompositionRow, row.id, status="done", result=built.result, checkpoint_artifact_id=art)
    return {"composition_id": row.id, "score1": built.result["score1"], "device": device}
