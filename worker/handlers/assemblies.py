"""Assembly jobs: search the partition under the budget, choose on validation, measure the
baseline, export the chosen network."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import NotFound
from core.progress import scaled
from core.store.models import Artifact, AssemblyRow, Model, PartitionRow
from worker.handlers.common import (
    dataset_arrays,
    dissection_of,
    load_registered,
    model_row,
    store_bytes,
    update_row,
)
from worker.runner import JobContext

if TYPE_CHECKING:
    from core.assembly.evaluate import Donor, TargetData
    from core.assembly.pipeline import Outcome


def run_assembly(ctx: JobContext) -> dict[str, Any]:
    """A failure is written on the assembly by the job's own finish (core.store.subjects)."""
    return _run(ctx, ctx.params["assembly_id"])


def _donor(ctx: JobContext, m: Model) -> Donor:
    from core.assembly.evaluate import Donor
    from core.dissect import split
    from core.stitch import DonorModel

    with ctx.sessions() as s:
        art = s.get(Artifact, m.weights_artifact_id) if m.weights_artifact_id else None
        sha = art.sha256 if art is not None else None
    net = load_registered(ctx, m)
    dissection = dissection_of(m)
    info = DonorModel(
        key=m.id,
        timm_name=m.architecture,
        input_size=tuple(m.input_size),
        kwargs={"num_classes": m.num_classes, **m.model_kwargs},
        weights_sha256=sha,
        mean=tuple(float(v) for v in m.mean),
        std=tuple(float(v) for v in m.std),
    )
    return Donor(m.id, m.name, net, split(net, dissection), dissection, info)


def _target(ctx: JobContext, row: AssemblyRow, cfg: dict[str, Any]) -> tuple[TargetData, list[str]]:
    from core.assembly.evaluate import TargetData

    images, labels, dataset = dataset_arrays(ctx, row.target_dataset_id)
    heldout = None
    if cfg.get("heldout_dataset_id"):
        held_images, held_labels, _ = dataset_arrays(ctx, cfg["heldout_dataset_id"])
        heldout = (held_images, held_labels)
    target = TargetData.from_arrays(
        images, labels, dataset.num_classes,
        seed=int(cfg["seed"]), heldout=heldout,
        max_fit=int(cfg["fit_images"]), max_heldout=int(cfg["heldout_images"]),
    )  # fmt: skip
    return target, dataset.class_names or [str(i) for i in range(dataset.num_classes)]


def _run(ctx: JobContext, assembly_id: str) -> dict[str, Any]:
    import torch

    from core.assembly.pipeline import SearchConfig, TrainingConfig, search
    from core.assembly.problem import Budget

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
    donors = {m.id: _donor(ctx, m) for m in models}
    target, class_names = _target(ctx, row, cfg)
    cuts = {m.id: [tuple(b) for b in part.result["partition"]["cuts"][i]] for i, m in enumerate(models)}
    config = SearchConfig(
        proxy=cfg["proxy"],
        pool_size=int(cfg["pool_size"]),
        finalists=int(cfg["candidates"]),
        seed=int(cfg["seed"]),
        probe_images=int(cfg["probe_images"]),
        training=TrainingConfig(**cfg["training"]),
    )
    outcome = search(
        cuts, donors, target, Budget(**cfg["constraints"]), config, progress=scaled(ctx.progress, 0.05, 0.95)
    )
    ctx.progress(0.96, "exporting the chosen network", stage="export")
    art = _export(ctx, assembly_id, outcome, donors, class_names)
    result = outcome.to_dict(donors) | {"target": target.sizes()}
    update_row(ctx, AssemblyRow, assembly_id, status="done", result=result, checkpoint_artifact_id=art)
    return {
        "assembly_id": assembly_id,
        "heldout_accuracy": outcome.network.heldout_accuracy,
        "recommendation": outcome.recommendation,
        "gain": outcome.gain,
        "candidates": len(outcome.pool),
    }


def _export(
    ctx: JobContext, assembly_id: str, outcome: Outcome, donors: dict[str, Donor], class_names: list[str]
) -> str:
    from core.stitch import export_archive

    chosen = outcome.network
    entry = donors[chosen.chain[0].model].info
    baseline = outcome.baseline
    metrics: dict[str, Any] = {
        "validation_accuracy": chosen.final_validation_accuracy(),
        "heldout_accuracy": chosen.heldout_accuracy,
        "proxy": outcome.proxy,
        "proxy_scores": chosen.scores(),
        "recommendation": outcome.recommendation,
        "gain_points": outcome.gain,
        "baseline": (
            {"model": donors[baseline.chain[0].model].name, "params": baseline.params,
             "heldout_accuracy": baseline.heldout_accuracy}
            if baseline else outcome.baseline_note
        ),
    }  # fmt: skip
    info = {
        "name": f"reassembly-{assembly_id}",
        "description": "Reassembled from blocks of: " + ", ".join(donors[k].name for k in chosen.donors),
        "class_names": class_names,
        "metrics": metrics,
        "base_models": [donors[b.model].info.timm_name for b in chosen.chain],
        "input_config": {
            "input_size": list(entry.input_size),
            "mean": list(entry.mean),
            "std": list(entry.std),
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = export_archive(chosen.net, info, Path(tmp) / "assembly.zip")
        return store_bytes(
            ctx, path.read_bytes(), media_type="application/zip", filename=f"{assembly_id}.zip"
        )
