"""The reassembled network on real dissected timm models: identity check, cross-model assembly with
every transition kind, exact cost, stitched stem, determinism and the frozen-block mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F

from core.dissect.discover import dissect
from core.dissect.pieces import SplitModel, split
from core.dissect.types import Dissection
from core.errors import InvalidInput
from core.flops import count_flops, count_params
from core.stitch import (
    AssemblySpec,
    BlockRef,
    DonorModel,
    Stitch,
    assembly_cost,
    build_reassembled,
    image_node,
    stitch_cost,
)

SIZE = (3, 32, 32)
DATA = Path(__file__).resolve().parents[2] / "data" / "fashion_subset.npz"
# key → (timm name, kwargs): a CNN (NCHW), a ViT (tokens with a class token), an NHWC net
DONORS: dict[str, tuple[str, dict[str, Any]]] = {
    "cnn": ("test_resnet", {}),
    "vit": ("test_vit", {"img_size": 32, "patch_size": 8}),
    "nhwc": ("test_mambaout", {}),
}


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    """96 real Fashion-MNIST images as the donors expect them: 3×32×32, normalised."""
    raw = torch.from_numpy(np.load(DATA)["images"][:96]).float().div(255)[:, None]
    x = F.interpolate(raw, size=SIZE[1:], mode="bilinear", align_corners=False).repeat(1, 3, 1, 1)
    return (x - 0.5) / 0.5


@pytest.fixture(scope="module")
def zoo() -> dict[str, tuple[torch.nn.Module, Dissection, SplitModel]]:
    out = {}
    for key, (name, kwargs) in DONORS.items():
        torch.manual_seed(0)
        model = timm.create_model(name, pretrained=False, **kwargs).eval()
        d = dissect(model, SIZE)
        out[key] = (model, d, split(model, d))
    return out


def donors_of(keys: list[str]) -> tuple[DonorModel, ...]:
    return tuple(DonorModel(k, DONORS[k][0], SIZE, DONORS[k][1]) for k in keys)


def parts(zoo: dict, keys: list[str]) -> tuple[dict, dict]:
    return {k: zoo[k][2] for k in keys}, {k: zoo[k][1] for k in keys}


@pytest.mark.parametrize(("key", "cut"), [("cnn", 1), ("vit", 2), ("nhwc", 3)])
def test_identity_check_same_model_blocks_reproduce_the_model(
    zoo: dict, images: torch.Tensor, key: str, cut: int
) -> None:
    """Block k and block k+1 of ONE model joined by a least-squares stitch give the model's output."""
    model, d, sp = zoo[key]
    last = len(d.nodes) - 1
    spec = AssemblySpec(
        (BlockRef(key, 0, cut), BlockRef(key, cut + 1, last)), donors_of([key]), num_classes=10
    )
    splits, dissections = parts(zoo, [key])
    modes = [m.training for m in sp.modules()]
    net = build_reassembled(spec, splits, dissections, probe_images=images[:64])
    assert [m.training for m in sp.modules()] == modes, "fitting changed the donor's train/eval modes"
    assert not net.stem_stitched and len(net.stitches) == 1
    held_out = images[64:]
    with torch.no_grad():
        want = model(held_out)
        got = sp.head(net.forward_features(held_out))
    rel = float((got - want).norm() / want.norm())
    assert rel < 1e-3, (
        f"{key}: relative output error {rel:.2e} (stitch residual {net.stitches[0].fit_residual:.2e})"
    )


def test_cross_model_network_all_transition_kinds(zoo: dict, images: torch.Tensor) -> None:
    """CNN → ViT → NHWC → CNN: map→tokens (with class token), tokens→map (NHWC), map→map (NHWC→NCHW)."""
    keys = ["cnn", "vit", "nhwc"]
    spec = AssemblySpec(
        (BlockRef("cnn", 0, 0), BlockRef("vit", 2, 3), BlockRef("nhwc", 4, 6), BlockRef("cnn", 3, 3)),
        donors_of(keys),
        num_classes=7,
    )
    splits, dissections = parts(zoo, keys)
    net = build_reassembled(spec, splits, dissections, probe_images=images[:48])
    kinds = [s.plan.transition for s in net.all_stitches()]
    assert kinds == ["map->tokens", "tokens->map", "map->map"]
    assert net.all_stitches()[0].plan.prefix_learned == 1  # the ViT block gets its class token back
    residuals = [s.fit_residual for s in net.all_stitches()]
    assert all(r is not None and 0 <= r < 1 for r in residuals), residuals

    x = images[48:52].clone().requires_grad_(True)
    net.train()
    logits = net(x)
    assert logits.shape == (4, 7)
    logits.logsumexp(1).mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None for s in net.all_stitches() for p in s.parameters())

    cost = assembly_cost(spec, dissections)
    assert count_params(net) == cost.params
    measured = count_flops(net, images[:1])
    assert abs(measured - cost.flops) <= 0.005 * cost.flops, (measured, cost.flops)


def test_stitched_stem_when_first_block_does_not_start_at_node_zero(zoo: dict, images: torch.Tensor) -> None:
    keys = ["vit", "cnn"]
    spec = AssemblySpec((BlockRef("vit", 1, 3), BlockRef("cnn", 2, 3)), donors_of(keys), num_classes=10)
    splits, dissections = parts(zoo, keys)
    net = build_reassembled(spec, splits, dissections, probe_images=images[:48])
    assert net.stem_stitched and isinstance(net.stem, Stitch)
    assert net.stem.plan.kernel == 8  # image → ViT tokens: a patchify conv plus a learned class token
    assert count_params(net.stem) == stitch_cost(image_node(SIZE), dissections["vit"].nodes[1]).params
    assert net.stem.fit_residual is not None and net.stem.fit_residual < 1
    assert net(images[:2]).shape == (2, 10)


def test_building_the_same_candidate_twice_is_bit_identical(zoo: dict, images: torch.Tensor) -> None:
    keys = ["cnn", "vit", "nhwc"]
    spec = AssemblySpec(
        (BlockRef("nhwc", 2, 2), BlockRef("cnn", 2, 2), BlockRef("vit", 4, 5)),
        donors_of(keys),
        num_classes=10,
    )
    splits, dissections = parts(zoo, keys)
    nets = [build_reassembled(spec, splits, dissections, probe_images=images[:32]) for _ in range(2)]
    a, b = (n.state_dict() for n in nets)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    unfitted = [build_reassembled(spec, splits, dissections) for _ in range(2)]
    c, d = (n.state_dict() for n in unfitted)
    assert all(torch.equal(c[k], d[k]) for k in c)
    assert not all(torch.equal(a[k], c[k]) for k in a)  # the fit did change the stitches


def test_freeze_blocks_trains_only_stitches_and_head(zoo: dict, images: torch.Tensor) -> None:
    keys = ["cnn", "vit"]
    spec = AssemblySpec((BlockRef("cnn", 0, 1), BlockRef("vit", 3, 5)), donors_of(keys), num_classes=10)
    splits, dissections = parts(zoo, keys)
    net = build_reassembled(spec, splits, dissections).freeze_blocks()
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("stitches.", "head.")) for n in trainable)
    net.train()
    assert all(not m.training for m in net.blocks.modules()) and not net.stem.training
    assert net.stitches.training and net.head.training

    before = {k: v.clone() for k, v in net.state_dict().items()}
    donor_before = {k: v.clone() for k, v in zoo["cnn"][0].state_dict().items()}
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    loss = F.cross_entropy(net(images[:16]), torch.arange(16) % 10)
    loss.backward()
    opt.step()
    after = net.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith(("stitches.", "head.")) for k in changed), changed  # BN stats too
    assert all(torch.equal(v, zoo["cnn"][0].state_dict()[k]) for k, v in donor_before.items())

    net.freeze_blocks(train_stem=True)
    assert all(p.requires_grad for p in net.stem.parameters())
    net.unfreeze().train()
    assert all(p.requires_grad for p in net.parameters()) and net.blocks.training


def test_bad_candidates_are_refused_with_reasons(zoo: dict) -> None:
    splits, dissections = parts(zoo, ["cnn", "vit"])
    donors = donors_of(["cnn", "vit"])
    with pytest.raises(InvalidInput, match="not among the donors"):
        build_reassembled(AssemblySpec((BlockRef("nope", 0, 1),), donors, 10), splits, dissections)
    with pytest.raises(InvalidInput, match="nodes 0..3"):
        build_reassembled(AssemblySpec((BlockRef("cnn", 2, 9),), donors, 10), splits, dissections)
    with pytest.raises(InvalidInput, match="at least one block"):
        build_reassembled(AssemblySpec((), donors, 10), splits, dissections)
