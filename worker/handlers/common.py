"""Loading rows and artifacts into core objects: shared by the job handlers."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.errors import Conflict, NotFound
from core.store.artifacts import record_artifact
from core.store.dissections import dissection_of
from core.store.ids import new_id
from core.store.models import Artifact, Base, Dataset, Model, Sketch
from worker.runner import JobContext, LeaseLost

Row = TypeVar("Row", bound=Base)

if TYPE_CHECKING:
    import torch
    from torch import nn

    from core.assembly.evaluate import Donor
    from core.assembly.training import DirCheckpoints
    from core.partition.request import PartitionRequest
    from core.progress import Progress


def model_row(ctx: JobContext, model_id: str) -> Model:
    with ctx.sessions() as s:
        row = s.get(Model, model_id)
        if row is None:
            raise NotFound(f"model {model_id} was deleted before its job ran")
        _ = row.nodes  # load before detaching
        s.expunge(row)
        return row


def detached(ctx: JobContext, cls: type[Row], row_id: str) -> Row:
    """One row by id, detached from its session (NotFound if it was deleted before or while the job ran)."""
    with ctx.sessions() as s:
        row = s.get(cls, row_id)
        if row is None:
            raise NotFound(f"{cls.__tablename__[:-1]} {row_id} was deleted before its job ran")
        s.expunge(row)
        return row


def update_row(ctx: JobContext, cls: type[Any], row_id: str, **fields: Any) -> None:
    """Set ``fields`` on one row and commit; NotFound if it was deleted meanwhile."""
    with ctx.sessions() as s:
        row = s.get(cls, row_id)
        if row is None:
            raise NotFound(f"{cls.__tablename__[:-1]} {row_id} was deleted while its job ran")
        for name, value in fields.items():
            setattr(row, name, value)
        s.commit()


def artifact_bytes(ctx: JobContext, artifact_id: str) -> bytes:
    with ctx.sessions() as s:
        art = s.get(Artifact, artifact_id)
        if art is None:
            raise NotFound(f"artifact {artifact_id} is missing")
        sha = art.sha256
    return ctx.artifacts.read_bytes(sha)


def store_bytes(ctx: JobContext, data: bytes, *, media_type: str, filename: str) -> str:
    """Store a blob as an artifact of the job's owner and return its id."""
    sha, size = ctx.artifacts.put_bytes(data)
    with ctx.sessions() as s:
        art_id = record_artifact(
            s, sha, size, owner=ctx.claim.owner, media_type=media_type, filename=filename
        ).id
        s.commit()
    return art_id


def load_registered(ctx: JobContext, row: Model) -> nn.Module:
    """The registered network with its canonical safetensors weights, in eval mode."""
    from core.zoo.registry import build_model, load_weights_strict, safetensors_state

    if row.weights_artifact_id is None:
        raise Conflict(f"model {row.id} has no weights yet ({row.status})")
    net = build_model(row.architecture, num_classes=row.num_classes, model_kwargs=row.model_kwargs)
    load_weights_strict(
        net, safetensors_state(artifact_bytes(ctx, row.weights_artifact_id)), arch=row.architecture
    )
    return net.eval()


def donor_of(ctx: JobContext, row: Model) -> Donor:
    """A registered, dissected model as a donor of blocks: weights, split, normalisation, sha256."""
    from core.assembly.evaluate import Donor
    from core.dissect import split
    from core.stitch import DonorModel

    with ctx.sessions() as s:
        art = s.get(Artifact, row.weights_artifact_id) if row.weights_artifact_id else None
        sha = art.sha256 if art is not None else None
    net = load_registered(ctx, row)
    dissection = dissection_of(row)
    info = DonorModel(
        key=row.id,
        timm_name=row.architecture,
        input_size=tuple(row.input_size),
        kwargs={"num_classes": row.num_classes, **row.model_kwargs},
        weights_sha256=sha,
        mean=tuple(float(v) for v in row.mean),
        std=tuple(float(v) for v in row.std),
    )
    return Donor(row.id, row.name, net, split(net, dissection), dissection, info)


def dataset_arrays(ctx: JobContext, dataset_id: str) -> tuple[np.ndarray, np.ndarray, Dataset]:
    """(images uint8, labels int64, row) of a registered dataset; read without pickle."""
    with ctx.sessions() as s:
        ds = s.get(Dataset, dataset_id)
        if ds is None:
            raise NotFound(f"dataset {dataset_id} was deleted")
        s.expunge(ds)
    with np.load(io.BytesIO(artifact_bytes(ctx, ds.artifact_id)), allow_pickle=False) as data:
        return data["images"], data["labels"].astype(np.int64), ds


@contextlib.contextmanager
def job_checkpoints(ctx: JobContext) -> Iterator[DirCheckpoints]:
    """The job's training checkpoints: a folder the server chooses, keyed by the job id. Removed
    when the job ends here (done, failed or cancelled); kept when the process dies or another
    worker took the job over (LeaseLost), so that the next attempt resumes from them."""
    from core.assembly.training import DirCheckpoints

    store = DirCheckpoints(ctx.settings.resolved_data_dir / "checkpoints" / ctx.claim.job_id)
    try:
        yield store
    except LeaseLost:
        raise
    except BaseException:
        store.clear()
        raise
    store.clear()


def image_transform(row: Model) -> Any:
    """uint8 images (B,H,W[,C]) → the model's normalised float input, on the images' device."""
    from core.device import prepare_on

    size = tuple(row.input_size)
    return lambda x: prepare_on(x, size, row.mean, row.std, x.device)


def sketch_for(
    ctx: JobContext,
    row: Model,
    images: np.ndarray,
    dataset_id: str,
    request: PartitionRequest,
    progress: Progress,
    device: str = "cpu",
) -> tuple[torch.Tensor, bool]:
    """The model's Gram sketch on the probe set, from the cache or by one forward pass on ``device``.

    Returns (sketch, computed): ``computed`` is False when a stored sketch was reused.
    """
    from core.dissect import split
    from core.similarity import (
        compute_sketches,
        point_layouts,
        probe_batches,
        sketch_from_bytes,
        sketch_to_bytes,
    )

    key: dict[str, Any] = {
        "model_id": row.id,
        "dataset_id": dataset_id,
        "probe_images": min(request.probe_images, len(images)),
        "batch_size": request.batch_size,
        "seed": request.seed,
    }
    with ctx.sessions() as s:
        cached = s.scalar(select(Sketch).where(*(getattr(Sketch, k) == v for k, v in key.items())))
        art_id = cached.artifact_id if cached is not None else None
    if art_id is not None:
        sketch, _ = sketch_from_bytes(artifact_bytes(ctx, art_id))
        return sketch, False
    dissection = dissection_of(row)
    parts = split(load_registered(ctx, row), dissection)
    kinds, prefix = point_layouts(dissection)
    batches = probe_batches(key["probe_images"], key["batch_size"], key["seed"])
    import torch

    sketch = compute_sketches(
        parts.stem,
        parts.nodes,
        kinds,
        prefix,
        torch.from_numpy(images),
        key["batch_size"],
        batches=batches,
        transform=image_transform(row),
        progress=progress,
        model=f"{row.name} ({row.id})",
        node_paths=[n.path for n in dissection.nodes],
        device=device,
        bf16=ctx.settings.sketch_bf16,
    )
    art_id = store_bytes(
        ctx, sketch_to_bytes(sketch, {"model_id": row.id}), media_type="application/octet-stream",
        filename=f"sketch-{row.id}.safetensors",
    )  # fmt: skip
    with ctx.sessions() as s:
        s.add(Sketch(id=new_id("skt"), artifact_id=art_id, **key))
        try:
            s.commit()
        except IntegrityError:  # another job sketched the same model and probe meanwhile: same result
            s.rollback()
    return sketch, True
