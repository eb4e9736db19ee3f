"""Gram sketches: one pass of a dissected model over a probe set → U-centred Grams per point.

A model with L nodes has L+1 *points*: point 0 is the stem output (the input of node 0) and point
i+1 is the output of node i. For each point and probe minibatch the sketch keeps the U-centred
linear Gram (B×B) of the pooled features, as float16: shape (points, batches, B, B). Its size does
not depend on feature width, and CKA between any two points of any two models sketched on the same
probe batches is a dot product (see ``cka.py``).

Scaling: a point's Grams are multiplied by one power of two (chosen from its first minibatch, so
entries are O(1)) to stay inside the float16 range. CKA is invariant to a per-point positive
factor, so the factor is not stored. Should a minibatch come near float16 overflow, the factor is
lowered for all of the point's minibatches (exact: powers of two).

Device: the Grams are accumulated on the model's device (float32 by default: docs/results.md,
"GPU workers", measures the CKA against float64 Grams) and copied to the CPU store once per model.
"""

from __future__ import annotations

import io
import json
import math
import struct
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from core.device import autocast
from core.dissect.types import Dissection, NodeKind
from core.errors import InvalidInput
from core.progress import Progress, no_progress
from core.similarity.cka import linear_gram, u_centre
from core.similarity.pooling import pool_features

SKETCH_FORMAT = "reassembly.gram_sketch.v1"
_FP16_SAFE_MAX = 2.0**14  # rescale when an entry would exceed this (float16 max is 65504)


def probe_batches(n: int, batch_size: int, seed: int) -> np.ndarray:
    """Fixed probe minibatches: (n // batch_size, batch_size) image indices, shuffled by ``seed``.

    The remainder (n mod batch_size images) is left out, so every minibatch has the same size and
    the HSIC normalisation cancels in CKA. Every model of a partition must use the same batches.
    """
    if batch_size < 4:
        raise InvalidInput(f"probe batch_size must be at least 4 for the unbiased HSIC, got {batch_size}")
    if n < batch_size:
        raise InvalidInput(f"the probe set has {n} images, fewer than one batch of {batch_size}")
    order = np.random.default_rng(seed).permutation(n)
    count = n // batch_size
    return order[: count * batch_size].reshape(count, batch_size).astype(np.int64)


def point_layouts(dissection: Dissection) -> tuple[list[NodeKind], list[int]]:
    """Layouts of the L+1 points of a dissected model: (kinds, num_prefix_tokens) per point."""
    nodes = dissection.nodes
    if not nodes:
        raise InvalidInput("the dissection has no nodes")
    kinds: list[NodeKind] = [nodes[0].in_kind] + [n.kind for n in nodes]
    prefix = [nodes[0].num_prefix_tokens] + [n.num_prefix_tokens for n in nodes]
    return kinds, prefix


def _to_store(grams: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(points, batches, B, B) Grams (any float dtype, on the CPU) → the stored sketch in ``dtype``.

    One power-of-two factor per point: chosen from the point's first minibatch with a non-zero Gram
    so that its RMS entry is about 1 (Frobenius norm ≈ B), then lowered until the largest entry of
    any minibatch stays below ``_FP16_SAFE_MAX``. This is the factor the per-minibatch scaler of
    earlier versions ended with, applied once (a power of two: exact)."""
    store = torch.empty(grams.shape, dtype=dtype)
    size = grams.shape[-1]
    for point in range(grams.shape[0]):
        g = grams[point]
        fro = torch.linalg.norm(g.reshape(g.shape[0], -1).double(), dim=1)
        usable = torch.nonzero((fro > 0) & torch.isfinite(fro))
        exp = 0
        if len(usable):
            exp = round(math.log2(size / float(fro[int(usable[0])])))
            peak = float(g.abs().max()) * 2.0**exp
            if peak > _FP16_SAFE_MAX:
                exp -= math.ceil(math.log2(peak / _FP16_SAFE_MAX))
        store[point] = (g.double() * 2.0**exp).to(dtype)
    return store


@torch.inference_mode()
def compute_sketches(
    stem: nn.Module,
    nodes: Iterable[nn.Module],
    kinds: Sequence[NodeKind | str],
    prefix_tokens: Sequence[int],
    images: torch.Tensor,
    batch_size: int,
    *,
    batches: np.ndarray | None = None,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    dtype: torch.dtype = torch.float16,
    progress: Progress | None = None,
    model: str | None = None,
    node_paths: Sequence[str] | None = None,
    device: torch.device | str = "cpu",
    gram_dtype: torch.dtype | None = None,
    bf16: bool = False,
) -> torch.Tensor:
    """One forward pass over the probe set → Gram sketch (L+1, num_batches, B, B), on the CPU.

    ``kinds`` / ``prefix_tokens`` describe the L+1 points (see ``point_layouts``). ``images`` is the
    probe set in any form ``transform`` turns a minibatch of into model input (e.g. uint8 images →
    resized, normalised float); without ``transform`` the images must already be model input.
    ``batches`` (from ``probe_batches``) fixes which images form each minibatch and their order;
    default: consecutive slices of ``batch_size``. Runs in eval mode; training flags are restored.

    Device: the stem and nodes are moved to ``device``, every minibatch is copied there before
    ``transform`` (so decoding, resizing and normalising run on the device), and the Grams stay on
    the device in ``gram_dtype`` (default float32; float64 for a float64 store) until the pass
    ends: one copy to the CPU per model, no synchronisation per minibatch. ``bf16`` runs the
    forward passes under bf16 autocast (pooled features and Grams stay float32).

    Features that are not finite (NaN/inf) at any point raise ``InvalidInput`` naming ``model`` and
    the node (index and, from ``node_paths``, its path) of the first such minibatch: a NaN Gram
    would otherwise make that point's CKA 0 against everything and the partition would silently
    carry on.
    """
    report = progress or no_progress
    nodes = list(nodes)
    num_points = len(nodes) + 1
    if len(kinds) != num_points or len(prefix_tokens) != num_points:
        raise InvalidInput(
            f"{len(nodes)} nodes have {num_points} points (stem output + one per node), but "
            f"{len(kinds)} kinds and {len(prefix_tokens)} prefix-token counts were given"
        )
    if batches is None:
        count = len(images) // batch_size
        batches = np.arange(count * batch_size, dtype=np.int64).reshape(count, batch_size)
    batches = np.asarray(batches, dtype=np.int64)
    if batches.ndim != 2 or batches.shape[1] != batch_size or batches.shape[0] == 0:
        raise InvalidInput(
            f"probe batches must be a non-empty (num_batches, {batch_size}) index array, got shape "
            f"{batches.shape}; there are {len(images)} probe images"
        )
    if batch_size < 4:
        raise InvalidInput(f"probe batch_size must be at least 4 for the unbiased HSIC, got {batch_size}")
    if node_paths is not None and len(node_paths) != len(nodes):
        raise InvalidInput(f"{len(node_paths)} node paths were given for {len(nodes)} nodes")
    dev = torch.device(device)
    work = gram_dtype or (torch.float64 if dtype == torch.float64 else torch.float32)
    grams = torch.zeros(num_points, batches.shape[0], batch_size, batch_size, dtype=work, device=dev)
    finite = torch.ones(batches.shape[0], num_points, dtype=torch.bool, device=dev)
    modules: list[nn.Module] = [stem, *nodes]
    was_training = [m.training for m in modules]
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False  # Grams in true float32 even if a job turned TF32 on
    for m in modules:
        m.eval().to(dev)
    try:
        for b, index in enumerate(batches):
            x = images[torch.from_numpy(index).to(images.device)].to(dev, non_blocking=True)
            if transform is not None:
                x = transform(x)
            with autocast(dev, bf16):
                x = stem(x)
            for point in range(num_points):
                if point > 0:
                    with autocast(dev, bf16):
                        x = nodes[point - 1](x)
                if isinstance(x, torch.Tensor):
                    finite[b, point] = torch.isfinite(x).all()
                pooled = pool_features(x, kinds[point], prefix_tokens[point])
                grams[point, b] = u_centre(linear_gram(pooled, dtype=work))
            report((b + 1) / batches.shape[0], f"probe batch {b + 1}/{batches.shape[0]}")
        bad = torch.nonzero(~finite.cpu())  # (batch, point) pairs in batch-major order
        if len(bad):
            raise _not_finite(model, node_paths, int(bad[0, 1]), int(bad[0, 0]))
        return _to_store(grams.cpu(), dtype)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
        for m, flag in zip(modules, was_training, strict=True):
            m.train(flag)


def _not_finite(model: str | None, node_paths: Sequence[str] | None, point: int, batch: int) -> InvalidInput:
    """The error for NaN/inf features at ``point`` (0: stem output, i + 1: output of node i)."""
    of_model = f"model {model}" if model else "the model"
    node = point - 1
    path = node_paths[max(node, 0)] if node_paths else None
    if node < 0:
        where = "the stem output (input of node 0" + (f", {path})" if path else ")")
    else:
        where = f"node {node}" + (f" ({path})" if path else "")
    return InvalidInput(
        f"features of {where} of {of_model} are not finite (NaN/inf) on probe batch {batch}: check "
        "the model's weights (NaN/inf or overflowing values) and the input normalisation (mean/std) "
        "of the probe images",
        details={
            "model": model,
            "node": node if node >= 0 else None,
            "path": path if node >= 0 else None,
            "point": point,
            "batch": batch,
        },
    )


def sketch_to_bytes(sketch: torch.Tensor, metadata: dict[str, str] | None = None) -> bytes:
    """Serialise a sketch as safetensors (key ``grams``) with string metadata."""
    meta = {"format": SKETCH_FORMAT, **(metadata or {})}
    return st_save({"grams": sketch.contiguous()}, metadata=meta)


def sketch_from_bytes(data: bytes) -> tuple[torch.Tensor, dict[str, str]]:
    """Inverse of ``sketch_to_bytes`` → (sketch, metadata)."""
    try:
        tensors = st_load(data)
    except Exception as exc:  # safetensors raises its own error types
        raise InvalidInput(f"not a safetensors Gram sketch: {exc}") from exc
    if "grams" not in tensors or tensors["grams"].ndim != 4:
        raise InvalidInput("the safetensors file holds no (points, batches, B, B) tensor named 'grams'")
    return tensors["grams"], _metadata(data)


def save_sketch(sketch: torch.Tensor, path: str | Path, metadata: dict[str, str] | None = None) -> None:
    Path(path).write_bytes(sketch_to_bytes(sketch, metadata))


def load_sketch(path: str | Path) -> torch.Tensor:
    return sketch_from_bytes(Path(path).read_bytes())[0]


def _metadata(data: bytes) -> dict[str, str]:
    with io.BytesIO(data) as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    meta = header.get("__metadata__", {})
    return {str(k): str(v) for k, v in meta.items()}
