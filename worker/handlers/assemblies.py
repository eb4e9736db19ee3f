"""Assembly jobs: load the partition's donors and the target, run the search on the worker's device,
store the archive. Training checkpoints live under the data directory keyed by the job id, so a job
picked up again after its worker died resumes its training; they are removed once the job ends here.
A failure is written on the assembly by the job's own finish (core.store.subjects)."""

from __future__ import annotations

from typing import Any

from core.errors import NotFound
from core.progress import scaled
from core.store.models import AssemblyRow, PartitionRow
from worker.handlers.common import (
    dataset_arrays,
    donor_of,
    job_checkpoints,
    model_row,
    store_bytes,
    update_row,
)
from worker.runner import JobContext


def run_assembly(ctx: JobContext) -> dict[str, Any]:
    import torch

    from core.assembly.evaluate import TargetData
    from core.assembly.export import archive_bytes
    from core.assembly.pipeline import Resume, search
    from core.assembly.request import AssemblyRequest

    torch.manual_seed(0)
    device = ctx.device()
    with ctx.sessions() as s:
        row = s.get(AssemblyRow, ctx.params["assembly_id"])
        part = s.get(PartitionRow, row.partition_id) if row is not None else None
        if row is None or part is None or part.result is None:
            raise NotFound(f"assembly {ctx.params['assembly_id']} or its partition was deleted")
        s.expunge_all()
    request = AssemblyRequest.from_config(row.config)
    ctx.progress(0.01, "loading the donors", stage="load")
    models = [model_row(ctx, mid) for mid in part.model_ids]
    donors = {m.id: donor_of(ctx, m) for m in models}
    images, labels, dataset = dataset_arrays(ctx, row.target_dataset_id)
    held = dataset_arrays(ctx, request.heldout_dataset_id)[:2] if request.heldout_dataset_id else None
    target = TargetData.from_arrays(
        images, labels, dataset.num_classes, seed=request.search.seed, heldout=held,
        max_fit=request.fit_images, max_heldout=request.heldout_images, device=device,
    )  # fmt: skip
    cuts = {m.id: [tuple(b) for b in part.result["partition"]["cuts"][i]] for i, m in enumerate(models)}
    with job_checkpoints(ctx) as checkpoints:  # removed once the job ends here, kept if it dies
        args = (cuts, donors, target, request.budget, request.search, scaled(ctx.progress, 0.05, 0.95))
        outcome = search(*args, Resume(checkpoints, ctx.settings.train_bf16))
        ctx.progress(0.96, "exporting the chosen network", stage="export")
        names = dataset.class_names or [str(i) for i in range(dataset.num_classes)]
        archive = archive_bytes(outcome, donors, names, f"reassembly-{row.id}")
        art = store_bytes(ctx, archive, media_type="application/zip", filename=f"{row.id}.zip")
        result = outcome.to_dict(donors) | {"target": target.sizes()}
        update_row(ctx, AssemblyRow, row.id, status="done", result=result, checkpoint_artifact_id=art)
    net = outcome.network
    return {"assembly_id": row.id, "heldout_accuracy": net.heldout_accuracy, "gain": outcome.gain,
            "recommendation": outcome.recommendation, "candidates": len(outcome.pool), "device": device,
            "resumed_from_epoch": outcome.resumed_from_epoch}  # fmt: skip
