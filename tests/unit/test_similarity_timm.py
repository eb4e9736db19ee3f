"""Gram sketches of real dissected timm models (random init, small input) against hooks on the
original model: same pooled features, same minibatch CKA."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from torch import nn

from core.dissect import dissect, node_module, split
from core.dissect.types import Dissection
from core.partition import node_sizes, partition
from core.similarity import PointSimilarity, cka_matrix, compute_sketches, minibatch_cka, point_layouts

SUBSET = Path(__file__).resolve().parents[2] / "data" / "fashion_subset.npz"
SIZE = 64


def _to_input(x: torch.Tensor) -> torch.Tensor:
    x = (x.float() / 255.0 - 0.286) / 0.353
    return F.interpolate(x.unsqueeze(1), size=(SIZE, SIZE), mode="bilinear").expand(-1, 3, -1, -1)


def _pooled_by_hooks(model: nn.Module, d: Dissection, x: torch.Tensor) -> list[torch.Tensor]:
    """Pooled features at every point, read by hooks during the *original* model's forward."""
    kinds, prefix = point_layouts(d)
    seen: list[torch.Tensor] = []

    def pool(t: torch.Tensor, kind: str, skip: int) -> torch.Tensor:
        if kind == "map_nchw":
            return t.mean(dim=(2, 3))
        if kind == "map_nhwc":
            return t.mean(dim=(1, 2))
        return t[:, skip:].mean(dim=1)

    first = node_module(model, d.nodes[0].path)
    handles = [first.register_forward_pre_hook(lambda _m, a: seen.append(pool(a[0], kinds[0], prefix[0])))]
    for i, spec in enumerate(d.nodes):
        handles.append(
            node_module(model, spec.path).register_forward_hook(
                lambda _m, _a, out, i=i: seen.append(pool(out, kinds[i + 1], prefix[i + 1]))
            )
        )
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return seen


@pytest.fixture(scope="module")
def zoo() -> list[tuple[nn.Module, Dissection, torch.Tensor]]:
    images = torch.from_numpy(np.load(SUBSET)["images"][:128])
    out = []
    models: list[tuple[str, dict[str, Any]]] = [("test_resnet", {}), ("test_vit", {"img_size": SIZE})]
    for name, kwargs in models:
        torch.manual_seed(0)
        model = timm.create_model(name, pretrained=False, num_classes=10, **kwargs).eval()
        d = dissect(model, (3, SIZE, SIZE))
        parts = split(model, d)
        kinds, prefix = point_layouts(d)
        sketch = compute_sketches(parts.stem, parts.nodes, kinds, prefix, images, 32, transform=_to_input)
        out.append((model, d, sketch))
    return out


def test_sketches_of_dissected_timm_models_match_hooks_on_the_model(zoo) -> None:
    images = torch.from_numpy(np.load(SUBSET)["images"][:128])
    for model, d, sketch in zoo:
        assert sketch.shape == (len(d.nodes) + 1, 4, 32, 32)
        feats = [_pooled_by_hooks(model, d, _to_input(b)) for b in images.split(32)]
        p = len(d.nodes) + 1
        assert all(len(f) == p for f in feats)
        direct = np.array(
            [
                [minibatch_cka([f[i] for f in feats], [f[j] for f in feats]) for j in range(p)]
                for i in range(p)
            ]
        )
        ours = cka_matrix(sketch, sketch)
        assert np.abs(ours - direct).max() < 1e-4, (d.nodes[0].path, np.abs(ours - direct).max())


def test_partition_of_two_dissected_timm_models(zoo) -> None:
    sim = PointSimilarity.from_sketches([s for _, _, s in zoo])
    sizes = [node_sizes(d, "params") for _, d, _ in zoo]
    part = partition(sim, sizes, k=2, epsilon=0.5, size_measure="params", restarts=20, seed=0)
    assert [len(c) for c in part.cuts] == [2, 2]
    for m, (_, d, _) in enumerate(zoo):
        assert part.cuts[m][-1][1] == len(d.nodes) - 1
        assert all(s < b for s, b in zip(part.block_sizes[m], [part.bounds[m]] * 2, strict=True))
    cross = sim.pair(0, 1)
    assert np.all(np.isfinite(cross)) and np.all(np.abs(cross) <= 1.0)
