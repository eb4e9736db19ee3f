"""Assembly jobs: search the partition under the budget, build and rank candidates, export the best."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from core.errors import NotFound, ReassemblyError
from core.progress import scaled
from core.store.models import AssemblyRow, PartitionRow
from worker.handlers.common import (
    dataset_arrays,
    dissection_of,
    load_registered,
    model_row,
    sketch_for,
    store_bytes,
    update_row,
)
from worker.runner import JobContext


def run_assembly(ctx: JobContext) -> dict[str, Any]:
    assembly_id = ctx.params["assembly_id"]
    try:
        return _run(ctx, assembly_id)
    except ReassemblyError as exc:
        error = {"code": exc.code, "message": exc.message, "details": exc.details}
        update_row(ctx, AssemblyRow, assembly_id, status="failed", result={"error": error})
        raise


def _run(ctx: JobContext, assembly_id: str) -> dict[str, Any]:
    import torch

    from core.assembly.pipeline import Donor, TargetData, search_and_rank
    from core.assembly.problem import Budget
    from core.dissect import split
    from core.similarity import PointSimilarity
    from core.stitch import DonorModel, export_archive
    from core.zoo.data import stratified_split

    torch.manual_seed(0)
    with ctx.sessions() as s:
        row = s.get(AssemblyRow, assembly_id)
        part = s.get(PartitionRow, row.partition_id) if row is not None else None
        if row is None or part is None:
            raise NotFound(f"assembly {assembly_id} or its partition was deleted")
        s.expunge_all()
    cfg = row.config
    assert part.result is not None
    ctx.progress(0.01, "loading the donors", stage="load")
    models = [model_row(ctx, mid) for mid in part.model_ids]
    donors = {}
    for m in models:
        net = load_registered(ctx, m)
        dissection = dissection_of(m)
        info = DonorModel(
            key=m.id,
            timm_name=m.architecture,
            input_size=tuple(m.input_size),  # type: ignore[arg-type]
            kwargs={"num_classes": m.num_classes, **m.model_kwargs},
        )
        donors[m.id] = Donor(m.id, m.name, net, split(net, dissection), dissection, info, m.mean, m.std)
    probe_images, _, _ = dataset_arrays(ctx, part.probe_dataset_id)
    sketches = [
        sketch_for(ctx, m, probe_images, part.probe_dataset_id, part.config, ctx.progress)[0] for m in models
    ]
    sim = PointSimilarity.from_sketches(sketches)
    images, labels, dataset = dataset_arrays(ctx, row.target_dataset_id)
    fit_idx, held_idx = stratified_split(
        labels, 0.2, int(cfg["seed"]), max_per_split=(int(cfg["fit_images"]), int(cfg["heldout_images"]))
    )
    target = TargetData(
        images[fit_idx], labels[fit_idx], images[held_idx], labels[held_idx], dataset.num_classes
    )
    cuts = {m.id: [tuple(b) for b in part.result["partition"]["cuts"][i]] for i, m in enumerate(models)}
    c = cfg["constraints"]
    budget = Budget(c.get("max_params"), c.get("max_flops"), c.get("min_params"), c.get("max_latency_ms"))
    ranked, model_scores, best = search_and_rank(
        cuts, donors, sim, target, budget,
        proxy=cfg["proxy"], top_n=int(cfg["candidates"]), compat_weight=float(cfg["compat_weight"]),
        seed=int(cfg["seed"]), probe_images=int(cfg["probe_images"]),
        progress=scaled(ctx.progress, 0.05, 0.9),
    )  # fmt: skip
    chosen = ranked[0].to_dict()
    training = cfg["training"]
    history: list[dict[str, Any]] = []
    if training["mode"] != "none":
        from core.assembly.pipeline import prepare_images
        from core.assembly.training import train_network

        first = donors[chosen["blocks"][0]["model_id"]]
        ctx.progress(0.9, f"training the chosen network ({training['mode']})", stage="train")
        history = train_network(
            best,
            prepare_images(target.fit_images, first),
            torch.from_numpy(target.fit_labels),
            (prepare_images(target.heldout_images, first), target.heldout_labels),
            mode=training["mode"],
            epochs=int(training["epochs"]),
            lr=float(training["lr"]),
            batch_size=int(training["batch_size"]),
            seed=int(cfg["seed"]),
            progress=scaled(ctx.progress, 0.9, 0.97),
        )
    ctx.progress(0.97, "exporting the chosen network", stage="export")
    with tempfile.TemporaryDirectory() as tmp:
        path = export_archive(
            best,
            {
                "name": f"reassembly-{assembly_id}",
                "description": "Reassembled from blocks of: " + ", ".join(d.name for d in donors.values()),
                "class_names": dataset.class_names or [str(i) for i in range(dataset.num_classes)],
                "metrics": {
                    "heldout_accuracy": chosen["heldout_accuracy"],
                    "proxy_scores": chosen["proxy_scores"],
                },
                "base_models": [donors[b["model_id"]].info.timm_name for b in chosen["blocks"]],
                "input_config": {
                    "input_size": list(best.input_size),
                    "mean": list(donors[chosen["blocks"][0]["model_id"]].mean),
                    "std": list(donors[chosen["blocks"][0]["model_id"]].std),
                },
            },  # fmt: skip
            Path(tmp) / "assembly.zip",
        )
        art = store_bytes(ctx, path.read_bytes(), media_type="application/zip", filename=f"{assembly_id}.zip")
    result = {
        "candidates": [r.to_dict() for r in ranked],
        "chosen": 0,
        "model_scores": model_scores,
        "target": {"fit_images": len(fit_idx), "heldout_images": len(held_idx)},
        "training": {"mode": training["mode"], "epochs": history},
    }
    update_row(ctx, AssemblyRow, assembly_id, status="done", result=result, checkpoint_artifact_id=art)
    return {
        "assembly_id": assembly_id,
        "heldout_accuracy": chosen["heldout_accuracy"],
        "candidates": len(ranked),
    }
