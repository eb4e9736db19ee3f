"""Registration and dissection jobs for registered models."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete

from core.errors import InvalidInput, NotFound
from core.store.models import Model, Node
from worker.handlers.common import artifact_bytes, load_registered, model_row, store_bytes
from worker.runner import JobContext


def run_register_model(ctx: JobContext) -> dict[str, Any]:
    from core.zoo.registry import (
        build_model,
        describe,
        load_weights_strict,
        safetensors_state,
        state_to_safetensors,
    )

    row = model_row(ctx, ctx.params["model_id"])
    ctx.progress(0.05, f"building {row.architecture}", stage="build")
    net = build_model(
        row.architecture,
        num_classes=row.num_classes or None,
        model_kwargs=row.model_kwargs,
        pretrained=row.pretrained,
        seed=row.seed,
    )
    weights_id = row.weights_artifact_id
    if weights_id is not None:
        ctx.progress(0.3, "checking the uploaded weights against the architecture", stage="weights")
        load_weights_strict(net, safetensors_state(artifact_bytes(ctx, weights_id)), arch=row.architecture)
    else:
        ctx.progress(0.3, "storing the initial weights as safetensors", stage="weights")
        weights_id = store_bytes(
            ctx,
            state_to_safetensors(net),
            media_type="application/octet-stream",
            filename=f"{row.name}.safetensors",
        )
    channels = len(row.input_size) and row.input_size[0]
    for label, values in (("mean", row.mean), ("std", row.std)):
        if values and channels and len(values) != channels:
            raise InvalidInput(f"{label} has {len(values)} values but the input has {channels} channels")
    ctx.progress(0.6, "measuring parameters and FLOPs", stage="measure")
    card = describe(net, tuple(row.input_size) if row.input_size else None)
    with ctx.sessions() as s:
        model = s.get(Model, row.id)
        if model is None:
            raise NotFound(f"model {row.id} was deleted during registration")
        model.num_classes = int(getattr(net, "num_classes", row.num_classes) or row.num_classes)
        model.input_size = list(card.input_size)
        if not row.mean or not row.std:
            model.mean, model.std = list(card.mean), list(card.std)
        model.params, model.flops = card.params, card.flops
        model.weights_artifact_id = weights_id
        model.status = "ready"
        s.commit()
    return {"model_id": row.id, "params": card.params, "flops": card.flops, "weights_artifact_id": weights_id}


def run_dissect(ctx: JobContext) -> dict[str, Any]:
    from core.dissect import dissect

    row = model_row(ctx, ctx.params["model_id"])
    _set_dissection(ctx, row.id, "running")
    ctx.progress(0.05, f"loading {row.name}", stage="load")
    net = load_registered(ctx, row)
    ctx.progress(0.1, "tracing and verifying nodes", stage="dissect")
    result = dissect(net, tuple(row.input_size), progress=ctx.progress)  # a failure: core.store.subjects
    summary = result.to_dict()
    nodes = summary.pop("nodes")
    with ctx.sessions() as s:
        s.execute(delete(Node).where(Node.model_id == row.id))
        s.add_all(Node(model_id=row.id, **n) for n in nodes)
        model = s.get(Model, row.id)
        if model is None:
            raise NotFound(f"model {row.id} was deleted during dissection")
        model.dissection = summary
        model.dissection_status = "done"
        s.commit()
    return {"model_id": row.id, "nodes": len(nodes), "max_abs_error": result.max_abs_error}


def _set_dissection(ctx: JobContext, model_id: str, status: str) -> None:
    with ctx.sessions() as s:
        model = s.get(Model, model_id)
        if model is not None:
            model.dissection_status = status
            s.commit()
