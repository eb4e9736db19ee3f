"""Registration and dissection jobs for registered models."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete

from core.errors import NotFound
from core.store.models import Model, Node
from worker.handlers.common import artifact_bytes, load_registered, model_row, store_bytes
from worker.runner import JobContext


def run_register_model(ctx: JobContext) -> dict[str, Any]:
    from core.zoo.registry import register

    row = model_row(ctx, ctx.params["model_id"])
    uploaded = artifact_bytes(ctx, row.weights_artifact_id) if row.weights_artifact_id else None
    made = register(
        row.architecture, num_classes=row.num_classes or None, model_kwargs=row.model_kwargs,
        pretrained=row.pretrained, seed=row.seed, input_size=row.input_size or None,
        mean=row.mean, std=row.std, weights=uploaded, progress=ctx.progress,
    )  # fmt: skip
    weights_id = row.weights_artifact_id
    if made.new_weights is not None:
        weights_id = store_bytes(
            ctx, made.new_weights, media_type="application/octet-stream", filename=f"{row.name}.safetensors"
        )
    card = made.card
    with ctx.sessions() as s:
        model = s.get(Model, row.id)
        if model is None:
            raise NotFound(f"model {row.id} was deleted during registration")
        model.num_classes, model.input_size = made.num_classes or row.num_classes, list(card.input_size)
        if not row.mean or not row.std:
            model.mean, model.std = list(card.mean), list(card.std)
        model.params, model.flops, model.weights_artifact_id, model.status = (
            card.params,
            card.flops,
            weights_id,
            "ready",
        )
        s.commit()
    return {"model_id": row.id, "params": card.params, "flops": card.flops, "weights_artifact_id": weights_id}


def run_dissect(ctx: JobContext) -> dict[str, Any]:
    from core.dissect import dissect

    row = model_row(ctx, ctx.params["model_id"])
    _set_dissection(ctx, row.id, "running")
    ctx.progress(0.05, f"loading {row.name}", stage="load")
    net = load_registered(ctx, row).to(ctx.device())  # the dissection probe follows the model's device
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
