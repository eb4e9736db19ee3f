"""Partition jobs: sketch each model on the probe set (cached), CKA, cover-set partition.
A failure is written on the partition by the job's own finish (core.store.subjects)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.errors import NotFound
from core.progress import scaled
from core.store.models import Model, PartitionRow
from worker.handlers.common import dataset_arrays, dissection_of, model_row, sketch_for, update_row
from worker.runner import JobContext

if TYPE_CHECKING:  # core.partition imports torch; the worker boots without it
    from core.partition.request import PartitionRequest


def _partition_row(ctx: JobContext) -> tuple[PartitionRow, PartitionRequest]:
    from core.partition.request import PartitionRequest

    with ctx.sessions() as s:
        row = s.get(PartitionRow, ctx.params["partition_id"])
        if row is None:
            raise NotFound(f"partition {ctx.params['partition_id']} was deleted")
        s.expunge(row)
        return row, PartitionRequest.from_config(row.config)


def _sketches(
    ctx: JobContext, models: list[Model], row: PartitionRow, request: PartitionRequest, end: float
) -> tuple[list[Any], list[str]]:
    """Every model's sketch (cached or computed), and the ids of those computed now."""
    images, _, _ = dataset_arrays(ctx, row.probe_dataset_id)
    device = ctx.device()
    sketches, computed = [], []
    for i, model in enumerate(models):
        start, stop = end * i / len(models), end * (i + 1) / len(models)
        ctx.progress(start, f"sketching {model.name} ({i + 1}/{len(models)})", stage="similarity")
        sketch, fresh = sketch_for(
            ctx, model, images, row.probe_dataset_id, request, scaled(ctx.progress, start, stop), device
        )
        sketches.append(sketch)
        computed += [model.id] if fresh else []
    return sketches, computed


def run_partition(ctx: JobContext) -> dict[str, Any]:
    from core.partition import node_sizes, partition
    from core.partition.report import describe_result
    from core.similarity import PointSimilarity

    row, request = _partition_row(ctx)
    models = [model_row(ctx, mid) for mid in row.model_ids]
    sketches, computed = _sketches(ctx, models, row, request, 0.8)
    ctx.progress(0.8, "CKA between all points of all models", stage="similarity")
    sim = PointSimilarity.from_sketches(sketches)
    dissections = [dissection_of(m) for m in models]
    ctx.progress(0.82, f"partitioning into {request.k} sets", stage="partition")
    part = partition(
        sim, [node_sizes(d, request.size_measure) for d in dissections],
        k=request.k, epsilon=request.epsilon, restarts=request.restarts, seed=request.seed,
        method=request.method, size_measure=request.size_measure, model_names=[m.name for m in models],
        node_paths=[[nd.path for nd in d.nodes] for d in dissections],
        progress=scaled(ctx.progress, 0.82, 0.99),
    )  # fmt: skip
    result = describe_result(part, [(m.id, m.name) for m in models], dissections, sim)
    update_row(ctx, PartitionRow, row.id, status="done", result=result)
    return {"partition_id": row.id, "objective": part.objective, "sketches_computed": computed}


def run_partition_add_model(ctx: JobContext) -> dict[str, Any]:
    from core.partition import Partition, add_model, node_sizes
    from core.partition.report import describe_result
    from core.similarity import PointSimilarity

    row, request = _partition_row(ctx)
    if row.result is None:
        raise NotFound(f"partition {row.id} has no result to add a model to")
    new = model_row(ctx, ctx.params["model_id"])
    models = [model_row(ctx, mid) for mid in row.model_ids]
    ctx.progress(0.05, "loading the stored sketches of the partition's models", stage="similarity")
    (*sketches, new_sketch), computed = _sketches(ctx, [*models, new], row, request, 0.9)
    sim = PointSimilarity.from_sketches([*sketches, new_sketch])
    n = len(models)
    dissection = dissection_of(new)
    part = add_model(
        Partition.from_dict(row.result["partition"]), {m: sim.pair(n, m) for m in range(n)},
        node_sizes(dissection, request.size_measure), name=new.name,
        node_paths=[nd.path for nd in dissection.nodes],
    )  # fmt: skip
    everyone = [*models, new]
    result = describe_result(
        part, [(m.id, m.name) for m in everyone], [dissection_of(m) for m in everyone], sim
    )
    update_row(ctx, PartitionRow, row.id, model_ids=[m.id for m in everyone], result=result)
    return {"partition_id": row.id, "objective": part.objective, "sketches_computed": computed}
