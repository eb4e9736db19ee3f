"""Partition jobs: sketch each model on the probe set (cached), CKA, cover-set partition."""

from __future__ import annotations

from typing import Any

from core.errors import NotFound
from core.progress import scaled
from core.store.models import Model, PartitionRow
from worker.handlers.common import dataset_arrays, dissection_of, model_row, sketch_for, update_row
from worker.runner import JobContext


def _partition_row(ctx: JobContext) -> PartitionRow:
    with ctx.sessions() as s:
        row = s.get(PartitionRow, ctx.params["partition_id"])
        if row is None:
            raise NotFound(f"partition {ctx.params['partition_id']} was deleted")
        s.expunge(row)
        return row


def describe_result(part: Any, rows: list[Model], sim: Any) -> dict[str, Any]:
    """The stored view of a partition: sets with model ids, node paths, params and FLOPs per block."""
    dissections = [dissection_of(r) for r in rows]

    def block(m: int, s: int) -> dict[str, Any]:
        first, last = part.cuts[m][s]
        nodes = dissections[m].nodes[first : last + 1]
        return {
            "model_id": rows[m].id,
            "model_name": rows[m].name,
            "first_node": first,
            "last_node": last,
            "first_path": nodes[0].path,
            "last_path": nodes[-1].path,
            "params": sum(n.params for n in nodes),
            "flops": sum(n.flops for n in nodes),
            "similarity_to_anchor": part.scores[m][s],
        }

    sets = [
        {
            "index": s,
            "anchor": block(part.anchors[s][0], s),
            "blocks": [block(m, s) for m in range(len(rows))],
        }
        for s in range(part.k)
    ]
    from core.partition.report import block_similarity_matrix

    matrix, labels = block_similarity_matrix(sim, part, order="set")
    return {
        "partition": part.to_dict(),
        "sets": sets,
        "node_counts": [len(d.nodes) for d in dissections],
        "block_similarity": matrix.round(4).tolist(),
        "block_labels": [f"set{s} {rows[m].name}" for m, s, _, _ in labels],
    }


def run_partition(ctx: JobContext) -> dict[str, Any]:
    from core.partition import node_sizes, partition
    from core.similarity import PointSimilarity

    row = _partition_row(ctx)
    cfg = row.config
    images, _, _ = dataset_arrays(ctx, row.probe_dataset_id)
    models = [model_row(ctx, mid) for mid in row.model_ids]
    sketches, computed = [], []
    n = len(models)
    for i, model in enumerate(models):
        ctx.progress(0.8 * i / n, f"sketching {model.name} ({i + 1}/{n})", stage="similarity")
        sketch, fresh = sketch_for(
            ctx,
            model,
            images,
            row.probe_dataset_id,
            cfg,
            scaled(ctx.progress, 0.8 * i / n, 0.8 * (i + 1) / n),
        )
        sketches.append(sketch)
        if fresh:
            computed.append(model.id)
    ctx.progress(0.8, "CKA between all points of all models", stage="similarity")
    sim = PointSimilarity.from_sketches(sketches)
    dissections = [dissection_of(m) for m in models]
    ctx.progress(0.82, f"partitioning into {cfg['k']} sets", stage="partition")
    part = partition(
        sim,
        [node_sizes(d, cfg["size_measure"]) for d in dissections],
        k=cfg["k"],
        epsilon=cfg["epsilon"],
        restarts=cfg["restarts"],
        seed=cfg["seed"],
        method=cfg["method"],
        size_measure=cfg["size_measure"],
        model_names=[m.name for m in models],
        node_paths=[[nd.path for nd in d.nodes] for d in dissections],
        progress=scaled(ctx.progress, 0.82, 0.99),
    )
    update_row(ctx, PartitionRow, row.id, status="done", result=describe_result(part, models, sim))
    return {"partition_id": row.id, "objective": part.objective, "sketches_computed": computed}


def run_partition_add_model(ctx: JobContext) -> dict[str, Any]:
    from core.partition import Partition, add_model, node_sizes
    from core.similarity import PointSimilarity

    row = _partition_row(ctx)
    cfg = row.config
    new = model_row(ctx, ctx.params["model_id"])
    images, _, _ = dataset_arrays(ctx, row.probe_dataset_id)
    models = [model_row(ctx, mid) for mid in row.model_ids]
    ctx.progress(0.05, "loading the stored sketches of the partition's models", stage="similarity")
    sketches = [sketch_for(ctx, m, images, row.probe_dataset_id, cfg, ctx.progress)[0] for m in models]
    ctx.progress(0.1, f"sketching {new.name}", stage="similarity")
    new_sketch, fresh = sketch_for(
        ctx, new, images, row.probe_dataset_id, cfg, scaled(ctx.progress, 0.1, 0.9)
    )
    sim = PointSimilarity.from_sketches([*sketches, new_sketch])
    n = len(models)
    cross = {m: sim.pair(n, m) for m in range(n)}
    dissection = dissection_of(new)
    old = Partition.from_dict(row.result["partition"])  # type: ignore[index]
    part = add_model(
        old,
        cross,
        node_sizes(dissection, cfg["size_measure"]),
        name=new.name,
        node_paths=[nd.path for nd in dissection.nodes],
    )
    all_models = [*models, new]
    update_row(
        ctx,
        PartitionRow,
        row.id,
        model_ids=[*row.model_ids, new.id],
        result=describe_result(part, all_models, sim),
    )
    return {
        "partition_id": row.id,
        "objective": part.objective,
        "sketches_computed": [new.id] if fresh else [],
    }
