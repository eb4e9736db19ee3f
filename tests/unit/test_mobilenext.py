"""MobileNeXt: exact parameter counts of the official code, FLOPs, the five block variants, the
partial shortcut, ONNX export, the timm interface and the small-input variant."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import onnxruntime as ort
import pytest
import timm
import torch
from safetensors.torch import save_file
from timm.models._manipulate import group_modules
from torch import nn

import core.zoo  # noqa: F401  (registers the models with timm)
from core.dissect import dissect, split
from core.errors import InvalidInput
from core.flops import count_flops, count_params
from core.zoo.mobilenext import MobileNeXt, SandglassBlock, make_divisible

M = TypeVar("M", bound=nn.Module)


def _mnx(name: str, **kwargs: Any) -> MobileNeXt:
    model = timm.create_model(name, **kwargs)
    assert isinstance(model, MobileNeXt)
    return model


def _calibrated(model: M, in_chans: int, size: int, seed: int = 0) -> M:
    """Give BN real running statistics (fresh ones leave the official init's outputs near 0,
    which would make numeric comparisons vacuous), then switch to eval."""
    torch.manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None
    model.train()
    with torch.no_grad():
        model(torch.randn(8, in_chans, size, size))
    model.eval()
    return model


# ----- exactness against the official code ----------------------------------------------------------


def test_mobilenext_100_has_the_official_parameter_count() -> None:
    model = _mnx("mobilenext_100", pretrained=False)
    assert count_params(model) == 3_535_416


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mobilenext_140", 6_126_168),
        ("mobilenext_075", 2_766_168),
        ("mobilenext_050", 2_152_304),
        ("mobilenext_035", 1_913_976),
    ],
)
def test_width_multipliers_match_the_official_parameter_counts(name: str, expected: int) -> None:
    assert count_params(timm.create_model(name)) == expected


def test_flops_at_224_are_the_papers_311m_multiply_adds() -> None:
    model = _mnx("mobilenext_100")
    flops = count_flops(model, torch.randn(1, 3, 224, 224))
    assert abs(flops - 2 * 311.3e6) / (2 * 311.3e6) < 0.02


def test_block_variants_and_hidden_widths_follow_the_official_rules() -> None:
    model = _mnx("mobilenext_100")
    got = [(b.variant, b.in_chs, b.hidden_chs, b.out_chs, b.stride, b.has_shortcut) for b in model.blocks]
    full = [("full", c, h, c, 1, True) for c, h in ((192, 32),) * 2 + ((288, 48),) * 2]
    expected = [
        ("first", 32, 16, 96, 2, False),
        ("keep_3x3", 96, 32, 144, 1, False),  # 96 // 6 = 16 < 144 / 6: raised to 32
        ("pw_pw_dw", 144, 32, 192, 2, False),
        *full[:2],
        ("pw_pw_dw", 192, 48, 288, 2, False),
        *full[2:],
        ("pw_pw", 288, 64, 384, 1, False),
        *[("full", 384, 64, 384, 1, True)] * 3,
        ("pw_pw_dw", 384, 96, 576, 2, False),
        *[("full", 576, 96, 576, 1, True)] * 3,
        ("pw_pw", 576, 160, 960, 1, False),
        *[("full", 960, 160, 960, 1, True)] * 2,
        ("keep_3x3", 960, 208, 1280, 1, False),
    ]
    assert got == expected


def test_block_layouts_put_relu6_only_after_the_first_depthwise_and_the_expansion() -> None:
    full = SandglassBlock(64, 64, 1, 6)
    assert full.dw_in is not None and isinstance(full.dw_in.act, nn.ReLU6)
    assert isinstance(full.pw_reduce.act, nn.Identity)
    assert isinstance(full.pw_expand.act, nn.ReLU6)
    assert full.dw_out is not None and isinstance(full.dw_out.act, nn.Identity)
    pw_pw = SandglassBlock(64, 96, 1, 6)
    assert pw_pw.variant == "pw_pw" and pw_pw.dw_in is None and pw_pw.dw_out is None
    pw_pw_dw = SandglassBlock(64, 96, 2, 6)
    assert pw_pw_dw.dw_in is None and pw_pw_dw.dw_out is not None and pw_pw_dw.dw_out.conv.stride == (2, 2)
    first = SandglassBlock(32, 96, 2, 2)
    assert first.dw_in is not None and first.dw_in.conv.stride == (1, 1)
    assert first.dw_out is not None and first.dw_out.conv.stride == (2, 2)


def test_width_rounding_and_the_fixed_last_stage() -> None:
    assert [make_divisible(c * 0.35) for c in (32, 96, 144, 192)] == [16, 32, 48, 64]
    assert _mnx("mobilenext_050").num_features == 1280  # stays 1280 below width 1
    assert _mnx("mobilenext_140").num_features == 1792  # scaled above width 1


def test_official_initialisation() -> None:
    torch.manual_seed(0)
    model = _mnx("mobilenext_100")
    last, middle = model.blocks[19], model.blocks[5]
    assert isinstance(last, SandglassBlock) and isinstance(middle, SandglassBlock)
    conv = last.pw_expand.conv  # 208 -> 1280, 1x1: std sqrt(2 / 1280)
    assert float(conv.weight.detach().std()) == pytest.approx(math.sqrt(2 / 1280), rel=0.02)
    assert float(model.classifier.weight.detach().std()) == pytest.approx(0.01, rel=0.02)
    assert float(model.classifier.bias.detach().abs().max()) == 0.0
    bn = middle.pw_reduce.bn
    assert bool((bn.weight == 1).all()) and bool((bn.bias == 0).all())


# ----- the shortcut ----------------------------------------------------------------------------------


@pytest.mark.parametrize("identity_div", [1, 2])
def test_shortcut_adds_the_input_to_the_first_channels_without_activation(identity_div: int) -> None:
    block = _calibrated(SandglassBlock(32, 32, 1, 6, identity_div=identity_div), 32, 8)
    x = torch.randn(2, 32, 8, 8)
    with torch.no_grad():
        out, branch = block(x), block.residual_branch(x)
    c = 32 // identity_div
    torch.testing.assert_close(out[:, :c], branch[:, :c] + x[:, :c])
    torch.testing.assert_close(out[:, c:], branch[:, c:])
    assert float(out.min()) < 0  # no ReLU after the add


def test_blocks_without_a_shortcut_return_the_branch() -> None:
    block = _calibrated(SandglassBlock(32, 48, 1, 6, keep_3x3=True), 32, 8)
    x = torch.randn(2, 32, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(block(x), block.residual_branch(x))
    assert not block.has_shortcut


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the legacy exporter is the fast one
@pytest.mark.parametrize("identity_div", [1, 2])
def test_onnx_export_matches_pytorch(identity_div: int, tmp_path: Path) -> None:
    torch.manual_seed(identity_div)
    model = _mnx("mobilenext_100", num_classes=10, identity_div=identity_div)
    model = _calibrated(model, 3, 64)
    x = torch.randn(2, 3, 64, 64)
    path = tmp_path / "mobilenext.onnx"
    torch.onnx.export(
        model, (x,), path, dynamo=False, input_names=["x"], output_names=["y"], opset_version=17
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (onnx_out,) = session.run(None, {"x": x.numpy()})
    with torch.no_grad():
        expected = model(x).numpy()
    assert float(np.abs(expected).max()) > 0.05  # a real signal, not the near-zero fresh-BN output
    np.testing.assert_allclose(onnx_out, expected, atol=1e-4, rtol=0)


# ----- timm interface --------------------------------------------------------------------------------


def test_group_matcher_gives_one_group_per_sandglass_block() -> None:
    model = _mnx("mobilenext_100")
    fine = group_modules(model, model.group_matcher(coarse=False))
    blocks = [mods for mods in fine.values() if mods[0].startswith("blocks.")]
    assert len(blocks) == 20
    assert all({m.split(".")[1] for m in mods} == {str(i)} for i, mods in enumerate(blocks))
    coarse = group_modules(model, model.group_matcher(coarse=True))
    assert len(coarse) == 1 + 8 + 1  # stem, 8 stages, classifier
    assert len(list(model.blocks.children())) == 20


def test_feature_info_matches_the_feature_maps() -> None:
    model: Any = timm.create_model("mobilenext_100", features_only=True)
    feats = model(torch.randn(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == [32, 144, 192, 384, 1280]
    assert [64 // f.shape[-1] for f in feats] == model.feature_info.reduction() == [2, 4, 8, 16, 32]
    assert [f["module"] for f in _mnx("mobilenext_100").feature_info][-1] == "blocks.19"


def test_head_classifier_and_config() -> None:
    model = _mnx("mobilenext_075", num_classes=7, in_chans=1, drop_rate=0.0).eval()
    x = torch.randn(2, 1, 64, 64)
    feats = model.forward_features(x)
    assert model.forward_head(feats, pre_logits=True).shape == (2, 1280)
    assert model(x).shape == (2, 7)
    assert isinstance(model.get_classifier(), nn.Linear)
    model.reset_classifier(0)
    assert model(x).shape == (2, 1280)
    model.reset_classifier(3, global_pool="max")
    assert model(x).shape == (2, 3)
    cfg = model.pretrained_cfg
    assert cfg["input_size"] == (3, 224, 224) and len(cfg["mean"]) == 3 and cfg["classifier"] == "classifier"


def test_pretrained_true_explains_how_to_load_weights() -> None:
    with pytest.raises(InvalidInput, match="no pretrained weights are published for mobilenext_100"):
        _mnx("mobilenext_100", pretrained=True)


def test_pretrained_from_a_local_safetensors_file(tmp_path: Path) -> None:
    source = _mnx("mobilenext_cifar", in_chans=1)
    path = str(tmp_path / "w.safetensors")
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, path)
    loaded = _mnx("mobilenext_cifar", pretrained=True, in_chans=1, pretrained_cfg_overlay=dict(file=path))
    for (name, a), b in zip(source.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_invalid_configurations_raise_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="identity_div"):
        _mnx("mobilenext_100", identity_div=0)
    with pytest.raises(InvalidInput, match="stage_strides"):
        _mnx("mobilenext_100", stage_strides=(1, 2))


# ----- the small-input variant ----------------------------------------------------------------------


def test_cifar_variant_trains_at_32px_with_one_channel() -> None:
    torch.manual_seed(0)
    model = _mnx("mobilenext_cifar", in_chans=1)
    assert model.num_classes == 10
    assert count_params(model) < 1_000_000
    assert model.feature_info[-1]["reduction"] == 8
    x = torch.randn(4, 1, 32, 32)
    assert model.forward_features(x).shape == (4, 1280, 4, 4)
    logits = model(x)
    assert logits.shape == (4, 10)
    nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 3])).backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads)
    assert float(model.stem.conv.weight.grad.abs().sum()) > 0  # type: ignore[union-attr]


# ----- dissection -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "input_size", "identity_div"),
    [("mobilenext_100", (3, 64, 64), 1), ("mobilenext_cifar", (1, 32, 32), 2)],
)
def test_dissection_finds_one_node_per_sandglass_block(
    name: str, input_size: tuple[int, int, int], identity_div: int
) -> None:
    model = _calibrated(
        _mnx(name, in_chans=input_size[0], identity_div=identity_div), input_size[0], input_size[1]
    )
    dissection = dissect(model, input_size)
    assert [node.path for node in dissection.nodes] == [f"blocks.{i}" for i in range(20)]
    assert dissection.max_abs_error <= 1e-5
    parts = dissection.stem_params + dissection.head_params + sum(n.params for n in dissection.nodes)
    assert parts == dissection.total_params == count_params(model)
    x = torch.randn(2, *input_size)
    with torch.no_grad():
        expected = model(x)
        assert float(expected.abs().max()) > 0.05
        torch.testing.assert_close(split(model, dissection)(x), expected, atol=1e-5, rtol=0)
