"""Dissection of real timm models at random init: node discovery, the line-graph check, and the
reconstruction stem + nodes + head == model (DESIGN.md §6, issue 3 done-when 1 and 4)."""

from __future__ import annotations

from typing import Any

import pytest
import timm
import torch
from torch import nn

from core.dissect import Dissection, SplitModel, dissect, split
from core.errors import DissectionMismatch, InvalidInput, NotALineGraph

CNN = (3, 32, 32)  # the smallest input every CNN below accepts (stride 32 -> 1x1)
TINY_IMG = {"img_size": 32}  # transformers re-sized to 32 px (ViT/DeiT: 2x2 patches; Swin: 8x8)

# name, kwargs, input size, expected node count (from the architecture definition), node kind
CASES: list[tuple[str, dict[str, Any], tuple[int, int, int], int, str]] = [
    ("resnet18", {}, CNN, 2 + 2 + 2 + 2, "map_nchw"),  # BasicBlocks per stage
    ("resnet50", {}, CNN, 3 + 4 + 6 + 3, "map_nchw"),  # Bottlenecks per stage
    ("resnext50_32x4d", {}, CNN, 3 + 4 + 6 + 3, "map_nchw"),
    ("regnety_008", {}, CNN, 1 + 3 + 8 + 2, "map_nchw"),  # Y-blocks, depths (1, 3, 8, 2)
    ("mobilenetv2_100", {}, CNN, 1 + 2 + 3 + 4 + 3 + 3 + 1, "map_nchw"),  # ds + inverted residuals
    ("mobilenetv3_large_100", {}, CNN, 1 + 2 + 3 + 4 + 2 + 3 + 1, "map_nchw"),  # + final ConvBnAct
    ("efficientnet_b0", {}, CNN, 1 + 2 + 2 + 3 + 3 + 4 + 1, "map_nchw"),
    ("convnext_tiny", {}, CNN, 3 + 3 + 9 + 3 + 3, "map_nchw"),  # blocks + 3 downsample layers
    ("vit_tiny_patch16_224", TINY_IMG, CNN, 12, "tokens"),
    ("deit_small_patch16_224", TINY_IMG, CNN, 12, "tokens"),
    ("swin_tiny_patch4_window7_224", TINY_IMG, CNN, 2 + 2 + 6 + 2 + 3, "map_nhwc"),  # + 3 patch merges
    ("vgg11_bn", {}, CNN, 8 - 1, "map_nchw"),  # 8 conv units; timm's group_matcher puts the 1st in the stem
    ("test_resnet", {}, CNN, 4, "map_nchw"),
    ("test_vit", TINY_IMG, CNN, 6, "tokens"),
    ("test_convnext", {}, CNN, 1 + 2 + 4 + 2 + 3, "map_nchw"),
    ("test_efficientnet", {}, CNN, 5, "map_nchw"),
]


# Expected leading node paths, input shape of node 0 and output shape of the last node.
LAYOUT: dict[str, tuple[list[str], tuple[int, ...], tuple[int, ...]]] = {
    "resnet18": (["layer1.0", "layer1.1", "layer2.0", "layer2.1"], (64, 8, 8), (512, 1, 1)),
    "swin_tiny_patch4_window7_224": (
        ["layers.0.blocks.0", "layers.0.blocks.1", "layers.1.downsample", "layers.1.blocks.0"],
        (8, 8, 96),  # NHWC
        (1, 1, 768),
    ),
    # conv, bn, relu, maxpool of the second conv unit
    "vgg11_bn": (["features[4:8]", "features[8:11]", "features[11:15]"], (64, 16, 16), (512, 1, 1)),
    "vit_tiny_patch16_224": (["blocks.0", "blocks.1"], (5, 192), (5, 192)),  # class token + 2x2 patches
    "convnext_tiny": (
        ["stages.0.blocks.0", "stages.0.blocks.1", "stages.0.blocks.2", "stages.1.downsample"],
        (96, 8, 8),
        (768, 1, 1),
    ),
}


def _model(name: str, **kwargs: Any) -> Any:
    torch.manual_seed(0)
    return timm.create_model(name, pretrained=False, **kwargs)


def _check_consistent(d: Dissection, model: nn.Module) -> None:
    assert [n.index for n in d.nodes] == list(range(len(d.nodes)))
    for before, after in zip(d.nodes[:-1], d.nodes[1:], strict=True):
        assert before.out_shape == after.in_shape and before.kind == after.in_kind
    assert all(n.params > 0 and n.flops > 0 for n in d.nodes)
    assert d.stem_params + sum(n.params for n in d.nodes) + d.head_params == d.total_params
    assert d.total_params == sum(p.numel() for p in model.parameters())
    assert d.stem_flops + sum(n.flops for n in d.nodes) + d.head_flops == pytest.approx(
        d.total_flops, rel=0.01
    )
    assert Dissection.from_dict(d.to_dict()) == d


@pytest.mark.parametrize(("name", "kwargs", "size", "count", "kind"), CASES, ids=[c[0] for c in CASES])
def test_dissect_reconstructs_timm_model(
    name: str, kwargs: dict[str, Any], size: tuple[int, int, int], count: int, kind: str
) -> None:
    model = _model(name, **kwargs)
    d = dissect(model, size)
    assert len(d.nodes) == count, [n.path for n in d.nodes]
    assert {n.kind for n in d.nodes} == {kind}
    assert d.max_abs_error <= 1e-5
    _check_consistent(d, model)
    if kind == "tokens":
        assert all(n.num_prefix_tokens == 1 for n in d.nodes)
        assert d.nodes[0].in_shape[0] == 1 + model.patch_embed.num_patches
    if name in LAYOUT:
        paths, first_in, last_out = LAYOUT[name]
        assert [n.path for n in d.nodes][: len(paths)] == paths
        assert d.nodes[0].in_shape == first_in and d.nodes[-1].out_shape == last_out
    # The split pieces rebuilt from the stored dissection reproduce the model on a fresh input.
    pieces = split(model, Dissection.from_dict(d.to_dict())).eval()
    x = torch.randn(2, *size)
    with torch.no_grad():
        assert torch.allclose(pieces(x), model.eval()(x), atol=1e-5, rtol=0)


def test_split_shares_weights_and_runs_blocks() -> None:
    model = _model("test_resnet").eval()
    d = dissect(model, CNN)
    pieces = split(model, d).eval()
    assert isinstance(pieces, SplitModel) and len(pieces.nodes) == len(d.nodes)
    assert pieces.nodes[0] is model.get_submodule("layer1.0")
    assert sum(p.numel() for p in pieces.stem.parameters()) == d.stem_params
    assert sum(p.numel() for p in pieces.head.parameters()) == d.head_params
    assert {id(p) for p in pieces.parameters()} == {id(p) for p in model.parameters()}
    x = torch.randn(2, *CNN)
    with torch.no_grad():
        h = pieces.stem(x)
        assert tuple(h.shape[1:]) == d.nodes[0].in_shape
        middle = pieces.block(1, 2)
        assert isinstance(middle, nn.Sequential) and len(middle) == 2
        out = pieces.block(3, 3)(middle(pieces.block(0, 0)(h)))
        assert torch.equal(pieces.head(out), model(x))
    with pytest.raises(InvalidInput, match="not a node range"):
        pieces.block(2, len(d.nodes))


def test_vit_stem_owns_class_token_and_position_embedding() -> None:
    model = _model("test_vit", **TINY_IMG).eval()
    pieces = split(model, dissect(model, CNN))
    stem_params = {id(p) for p in pieces.stem.parameters()}
    assert id(model.cls_token) in stem_params and id(model.pos_embed) in stem_params
    assert id(model.head.weight) not in stem_params and id(model.head.weight) in {
        id(p) for p in pieces.head.parameters()
    }
    with torch.no_grad():
        tokens = pieces.stem(torch.randn(2, *CNN))
    assert tokens.shape[1] == model.num_prefix_tokens + model.patch_embed.num_patches


def test_train_mode_head_keeps_functional_dropout() -> None:
    """A ``self.training`` test in forward (dropout before the classifier) must follow the mode."""
    model = _model("test_efficientnet", drop_rate=0.5)
    pieces = split(model, dissect(model, CNN))
    x = torch.randn(4, *CNN)
    model.train()
    pieces.train()
    torch.manual_seed(1)
    expected = model(x)
    torch.manual_seed(1)
    got = pieces(x)
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(got, pieces.eval()(x), atol=1e-3)  # dropout did act in train mode


def test_dissect_reports_progress_restores_mode_and_leaves_no_hooks() -> None:
    model = _model("test_resnet").train()
    seen: list[float] = []
    dissect(model, CNN, progress=lambda fraction, message="": seen.append(fraction))
    assert len(seen) > 3 and seen == sorted(seen) and seen[-1] == 1.0
    assert model.training
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_densenet_is_refused_naming_the_first_branching_node() -> None:
    with pytest.raises(NotALineGraph) as caught:
        dissect(_model("densenet121"), CNN)
    assert caught.value.details["node"] == "features.denseblock1.denselayer1"
    assert "features.denseblock1.denselayer1" in str(caught.value)


class _Blocks(nn.Module):
    """A toy model with a ModuleList of conv blocks and a configurable data flow."""

    def __init__(self, flow: str):
        super().__init__()
        self.flow = flow
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.blocks = nn.ModuleList(nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU()) for _ in range(4))
        self.fc = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        h = [self.blocks[0](x)]
        if self.flow == "skip":  # output of block 1 feeds block 2 and, later, the sum before block 3
            h.append(self.blocks[1](h[0]))
            h.append(self.blocks[2](h[1]))
            h.append(self.blocks[3](h[2] + h[1]))
        elif self.flow == "shared":  # block 1 runs twice
            h.append(self.blocks[1](self.blocks[1](h[0])))
            h.append(self.blocks[3](self.blocks[2](h[1])))
        elif self.flow == "glue":  # an op between two nodes that is no module
            h.append(self.blocks[3](self.blocks[2](self.blocks[1](h[0]) * 2)))
        elif self.flow == "global":  # the head reads the stem output as well
            h.append(self.blocks[3](self.blocks[2](self.blocks[1](h[0]))) + x)
        else:
            h.append(self.blocks[3](self.blocks[2](self.blocks[1](h[0]))))
        out = self.fc(h[-1].mean((2, 3)))
        if self.flow == "noisy":
            out = out + torch.rand(1)
        return out


@pytest.mark.parametrize(
    ("flow", "node", "reason"),
    [
        ("skip", "blocks.1", "besides the next node"),
        ("shared", "blocks.1", "runs 2 times"),
        ("glue", "blocks.1", "only through operation"),
        ("global", "blocks.0", "its input is also read"),
    ],
)
def test_non_line_flows_are_refused_by_name(flow: str, node: str, reason: str) -> None:
    with pytest.raises(NotALineGraph, match=reason) as caught:
        dissect(_Blocks(flow), (3, 8, 8))
    assert caught.value.details["node"] == node


def test_plain_model_without_group_matcher_uses_containers() -> None:
    model = _Blocks("line")
    d = dissect(model, (3, 8, 8))
    assert [n.path for n in d.nodes] == [f"blocks.{i}" for i in range(4)]
    assert d.extras["candidate_source"] == "containers" and d.max_abs_error == 0.0


def test_unreproducible_model_is_a_dissection_mismatch() -> None:
    with pytest.raises(DissectionMismatch, match="max"):
        dissect(_Blocks("noisy"), (3, 8, 8))


def test_bad_input_sizes_are_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="input_size"):
        dissect(_Blocks("line"), (3, 8))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="fails on an input"):
        dissect(_Blocks("line"), (1, 8, 8))


@pytest.mark.slow
def test_resnet50_flops_at_224_add_up() -> None:
    """Issue 3 done-when 4: 16 nodes whose FLOPs plus stem and head make the whole model's (±1 %)."""
    model = _model("resnet50")
    d = dissect(model, (3, 224, 224))
    assert len(d.nodes) == 16
    assert d.nodes[0].in_shape == (64, 56, 56) and d.nodes[-1].out_shape == (2048, 7, 7)
    parts = d.stem_flops + sum(n.flops for n in d.nodes) + d.head_flops
    assert abs(parts - d.total_flops) <= 0.01 * d.total_flops
    assert 8.0e9 < d.total_flops < 8.4e9  # ~4.1 G multiply-adds, the published figure for ResNet-50
