"""FLOPs of attention models: counted against analytic formulas, the same whatever SDPA backend
(fused or math, CPU or CUDA) would run, and adding up over a dissection.

Convention (that of ``torch.utils.flop_counter``, used by ``core.flops``): one multiply-add = 2
FLOPs, batch of one, and only matmuls and convolutions count. The analytic formulas below therefore
include: the patch-embedding convolution; per block the qkv projection, q·kᵀ, attn·v, the output
projection and the MLP fc1/fc2; Swin's patch-merging reductions; the classifier. They leave out
every addition (biases, residuals, Swin's relative position bias and shift mask), softmax, norms,
activations and pooling: FlopCounterMode does not count those either. The number of heads does
not change the count (h heads of width D/h do T²·D multiply-adds for q·kᵀ in total).
"""

from __future__ import annotations

from typing import Any

import pytest
import timm
import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from core.dissect import dissect
from core.flops import count_flops

VIT = "vit_tiny_patch16_224"
SWIN = "swin_tiny_patch4_window7_224"
SIZE = (3, 224, 224)
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _model(name: str) -> Any:
    torch.manual_seed(0)
    return timm.create_model(name, pretrained=False).eval()


def _input(device: str = "cpu") -> torch.Tensor:
    return torch.randn(1, *SIZE, generator=torch.Generator().manual_seed(0)).to(device)


def vit_analytic_flops(model: Any) -> int:
    """ViT: patch conv + depth × (qkv, q·kᵀ, attn·v, proj, fc1, fc2) + classifier on the class token."""
    d = model.embed_dim
    depth = len(model.blocks)
    patches = model.patch_embed.num_patches
    ph, pw = model.patch_embed.patch_size
    in_chans = model.patch_embed.proj.in_channels
    tokens = model.num_prefix_tokens + patches
    hidden = model.blocks[0].mlp.fc1.out_features  # mlp_ratio · embed_dim
    assert model.global_pool == "token" and model.num_prefix_tokens == 1  # one class token, no registers
    patch_embed = patches * d * in_chans * ph * pw
    block = (
        tokens * d * 3 * d  # qkv
        + tokens * tokens * d  # q·kᵀ, all heads together
        + tokens * tokens * d  # attn·v
        + tokens * d * d  # proj
        + tokens * d * hidden  # fc1
        + tokens * hidden * d  # fc2
    )
    head = d * model.num_classes
    return 2 * (patch_embed + depth * block + head)


def swin_analytic_flops(model: Any) -> int:
    """Swin: patch conv; per stage an optional patch merging (Linear 4C→2C on the merged tokens) and
    blocks of windowed attention (q·kᵀ and attn·v over W×W windows) + MLP; classifier on the mean."""
    c = model.embed_dim
    gh, gw = model.patch_embed.grid_size
    ph, pw = model.patch_embed.patch_size
    in_chans = model.patch_embed.proj.in_channels
    total = gh * gw * c * in_chans * ph * pw  # patch embedding
    h, w = gh, gw
    for stage in model.layers:
        if not isinstance(stage.downsample, nn.Identity):
            h, w = h // 2, w // 2
            total += h * w * (4 * c) * (2 * c)  # patch merging: concat 2×2 → LayerNorm → Linear(4C, 2C)
            c *= 2
        tokens = h * w
        for blk in stage.blocks:
            wh, ww = blk.window_size
            window = wh * ww
            assert h % wh == 0 and w % ww == 0  # no padding at 224² (56, 28, 14, 7 with 7×7 windows)
            hidden = blk.mlp.fc1.out_features  # mlp_ratio · C
            total += (
                tokens * c * 3 * c  # qkv
                + tokens * window * c  # q·kᵀ inside each window (tokens/window windows × window² × C)
                + tokens * window * c  # attn·v
                + tokens * c * c  # proj
                + tokens * c * hidden  # fc1
                + tokens * hidden * c  # fc2
            )
    assert c == model.num_features
    return 2 * (total + c * model.num_classes)


ANALYTIC = {VIT: vit_analytic_flops, SWIN: swin_analytic_flops}


def _set_fused_attn(model: nn.Module, fused: bool) -> None:
    """Switch timm's attention between F.scaled_dot_product_attention and explicit q @ kᵀ."""
    switched = 0
    for module in model.modules():
        if hasattr(module, "fused_attn"):
            setattr(module, "fused_attn", fused)  # noqa: B010 (typed as a Module attribute)
            switched += 1
    assert switched > 0


@pytest.fixture(scope="module", params=[VIT, SWIN])
def dissected(request: pytest.FixtureRequest) -> tuple[str, Any, Any]:
    model = _model(request.param)
    return request.param, model, dissect(model, SIZE)


def test_count_matches_analytic_flops(dissected: tuple[str, Any, Any]) -> None:
    name, model, d = dissected
    analytic = ANALYTIC[name](model)
    counted = count_flops(model, _input())
    assert counted == pytest.approx(analytic, rel=0.005), (counted, analytic)
    assert d.total_flops == counted


def test_dissection_flops_add_up_to_the_model(dissected: tuple[str, Any, Any]) -> None:
    name, _, d = dissected
    parts = d.stem_flops + sum(n.flops for n in d.nodes) + d.head_flops
    assert parts == pytest.approx(d.total_flops, rel=0.001), (name, parts, d.total_flops)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", [VIT, SWIN])
def test_count_does_not_depend_on_the_attention_kernel(name: str, device: str) -> None:
    """A CPU and a CUDA worker, with fused or math attention, must record the same FLOPs."""
    model = _model(name).to(device)
    x = _input(device)
    expected = ANALYTIC[name](model)
    _set_fused_attn(model, False)  # explicit matmuls: no SDPA kernel at all
    assert count_flops(model, x) == expected
    _set_fused_attn(model, True)  # F.scaled_dot_product_attention, any backend allowed
    assert count_flops(model, x) == expected
    fused = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION]
    with sdpa_kernel([*fused, SDPBackend.MATH]):  # a caller preferring fused kernels changes nothing
        assert count_flops(model, x) == expected
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model(x)
    assert counter.get_total_flops() == expected
