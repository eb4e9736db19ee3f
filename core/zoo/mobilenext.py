"""MobileNeXt (Zhou et al., ECCV 2020): the sandglass block and the network, registered with timm.

Written from the paper and the semantics of the official ``mnext.py`` (see docs/notes/mobilenext.md):
the block comes in five variants chosen from its channels, stride, reduction ratio and stage shape;
the residual joins the high-dimensional ends (optionally only the first C / identity_div channels)
with no activation after the add. Importing this module registers ``mobilenext_035/050/075/100/140``
and ``mobilenext_cifar`` with timm, so ``timm.create_model("mobilenext_100")`` works like any timm name.

The trunk is a flat ``nn.Sequential`` of 20 sandglass blocks (``blocks.0`` .. ``blocks.19``): a line
graph whose children are the atomic nodes for dissection.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import create_classifier
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models._manipulate import checkpoint_seq
from torch import nn

from core.errors import InvalidInput
from core.zoo.cfg import zoo_cfg

CIFAR10 = dict(mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616))

__all__ = [
    "MOBILENEXT_CFG",
    "ConvBnAct",
    "MobileNeXt",
    "SandglassBlock",
    "SandglassVariant",
    "make_divisible",
    "mobilenext_035",
    "mobilenext_050",
    "mobilenext_075",
    "mobilenext_100",
    "mobilenext_140",
    "mobilenext_cifar",
]

# [t, c, n, s]: reduction ratio (hidden = in // t), output channels, repeats, stride of the first block.
# n = 3 for the 960 stage (the arXiv table's 2 is a typo confirmed by the authors).
MOBILENEXT_CFG: tuple[tuple[int, int, int, int], ...] = (
    (2, 96, 1, 2),
    (6, 144, 1, 1),
    (6, 192, 3, 2),
    (6, 288, 3, 2),
    (6, 384, 4, 1),
    (6, 576, 4, 2),
    (6, 960, 3, 1),
    (6, 1280, 1, 1),
)
IMAGENET_STAGE_STRIDES: tuple[int, ...] = tuple(s for _, _, _, s in MOBILENEXT_CFG)
# Small-input variant: stem stride 1 and the first sandglass stage at stride 1 (total stride 8),
# the same adaptation the usual CIFAR ports of MobileNetV2 make; 32 px in -> 4x4 before pooling.
CIFAR_STAGE_STRIDES: tuple[int, ...] = (1, 1, 2, 2, 1, 2, 1, 1)
CIFAR_WIDTH = 0.5

SandglassVariant = Literal["first", "pw_pw", "pw_pw_dw", "keep_3x3", "full"]


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, never going below 90 % of it
    (the MobileNetV2 rounding rule the official code uses)."""
    floor = divisor if min_value is None else min_value
    rounded = max(floor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class ConvBnAct(nn.Module):
    """Bias-free conv -> BN -> optional ReLU6 (a plain module, not a Sequential, so timm's feature
    extraction and generic dissectors treat it as one leaf container)."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 1,
        stride: int = 1,
        depthwise: bool = False,
        act: bool = True,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_chs,
            out_chs,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=in_chs if depthwise else 1,
            bias=False,
        )
        self.bn = nn.BatchNorm2d(out_chs)
        self.act: nn.Module = nn.ReLU6() if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


def sandglass_hidden_width(in_chs: int, out_chs: int, reduce_ratio: int) -> int:
    """Bottleneck width: ``in // t``, raised to make_divisible(ceil(out / 6), 16) when below out / 6."""
    hidden = in_chs // reduce_ratio
    if hidden < out_chs / 6.0:
        hidden = make_divisible(math.ceil(out_chs / 6.0), 16)
    return hidden


def sandglass_variant(
    in_chs: int, out_chs: int, stride: int, reduce_ratio: int, keep_3x3: bool
) -> SandglassVariant:
    """Which of the official code's five block layouts applies (checked in the code's order)."""
    if reduce_ratio == 2:
        return "first"
    if in_chs != out_chs and not keep_3x3:
        return "pw_pw" if stride == 1 else "pw_pw_dw"
    return "keep_3x3" if keep_3x3 else "full"


class SandglassBlock(nn.Module):
    """One sandglass block. Layouts (DW = depthwise 3x3, PW = 1x1, ``+act`` = ReLU6):

    - ``first`` (t = 2): DW s1 +act -> PW reduce -> PW expand +act -> DW stride s
    - ``pw_pw`` (channels change, stride 1): PW reduce -> PW expand +act
    - ``pw_pw_dw`` (channels change, stride 2): PW reduce -> PW expand +act -> DW s2
    - ``keep_3x3`` (first block of a one-block stride-1 stage) and ``full``:
      DW s1 +act -> PW reduce -> PW expand +act -> DW stride s

    Only ``full`` blocks with equal channels and stride 1 carry the shortcut; it adds the input to
    the first ``in_chs // identity_div`` output channels, out of place, with no activation after.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        stride: int,
        reduce_ratio: int,
        keep_3x3: bool = False,
        identity_div: int = 1,
    ) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise InvalidInput(f"sandglass stride must be 1 or 2, got {stride}")
        if identity_div < 1:
            raise InvalidInput(
                f"identity_div must be a positive integer (1 = full shortcut), got {identity_div}"
            )
        self.in_chs = in_chs
        self.out_chs = out_chs
        self.stride = stride
        self.variant: SandglassVariant = sandglass_variant(in_chs, out_chs, stride, reduce_ratio, keep_3x3)
        self.hidden_chs = sandglass_hidden_width(in_chs, out_chs, reduce_ratio)
        hid = self.hidden_chs
        # The parts are direct children (no inner Sequential): the block is the smallest module that
        # holds all its parameters, which is how dissectors recognise it as one node.
        full_dw = self.variant in ("first", "keep_3x3", "full")
        self.dw_in = ConvBnAct(in_chs, in_chs, 3, 1, depthwise=True, act=True) if full_dw else None
        self.pw_reduce = ConvBnAct(in_chs, hid, 1, act=False)
        self.pw_expand = ConvBnAct(hid, out_chs, 1, act=True)
        has_dw_out = self.variant != "pw_pw"
        self.dw_out = (
            ConvBnAct(out_chs, out_chs, 3, stride, depthwise=True, act=False) if has_dw_out else None
        )
        self.has_shortcut = self.variant == "full" and in_chs == out_chs and stride == 1
        self.identity_div = identity_div
        self.shortcut_chs = in_chs // identity_div if self.has_shortcut else 0

    def residual_branch(self, x: torch.Tensor) -> torch.Tensor:
        """The block without its shortcut."""
        if self.dw_in is not None:
            x = self.dw_in(x)
        x = self.pw_expand(self.pw_reduce(x))
        if self.dw_out is not None:
            x = self.dw_out(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.residual_branch(x)
        if not self.has_shortcut:
            return out
        c = self.shortcut_chs
        if c == self.out_chs:
            return out + x
        # Partial identity, out of place (no slice assignment) so tracing and ONNX export work.
        return torch.cat([out[:, :c] + x[:, :c], out[:, c:]], dim=1)

    def extra_repr(self) -> str:
        extra = f", identity_div={self.identity_div}" if self.has_shortcut else ""
        return f"variant={self.variant}, hidden={self.hidden_chs}, shortcut={self.has_shortcut}{extra}"


def _init_official(model: nn.Module) -> None:
    """The official initialisation: conv N(0, sqrt(2 / (k*k*out))), BN 1/0, linear N(0, 0.01)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class MobileNeXt(nn.Module):
    """MobileNeXt classifier with timm's model interface.

    Args:
        num_classes: classifier outputs (0 = no classifier, ``forward`` returns pooled features).
        in_chans: input image channels.
        width_mult: channel multiplier; channels are make_divisible(c * w, 8) (divisor 4 at w = 0.1),
            the last stage stays 1280 when w < 1.
        identity_div: shortcut on the first C / identity_div channels (1 = full, 2 = half ...).
        drop_rate: dropout before the classifier (0.2 in the paper).
        global_pool: timm pool type ('avg', 'max', 'avgmax', ...; '' = none).
        stem_stride: stride of the 3x3 stem conv (2 for ImageNet, 1 for 32 px inputs).
        stage_strides: stride of the first block of each of the 8 stages (default: the paper's).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 3,
        width_mult: float = 1.0,
        identity_div: int = 1,
        drop_rate: float = 0.2,
        global_pool: str = "avg",
        stem_stride: int = 2,
        stage_strides: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        strides = tuple(IMAGENET_STAGE_STRIDES if stage_strides is None else stage_strides)
        if len(strides) != len(MOBILENEXT_CFG) or any(s not in (1, 2) for s in strides):
            raise InvalidInput(
                f"stage_strides must be {len(MOBILENEXT_CFG)} values of 1 or 2 (one per stage), got {strides}"
            )
        if stem_stride not in (1, 2):
            raise InvalidInput(f"stem_stride must be 1 or 2, got {stem_stride}")
        if width_mult <= 0:
            raise InvalidInput(f"width_mult must be positive, got {width_mult}")
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.width_mult = width_mult
        self.identity_div = identity_div
        self.drop_rate = drop_rate
        self.grad_checkpointing = False

        divisor = 4 if width_mult == 0.1 else 8
        stem_chs = make_divisible(32 * width_mult, divisor)
        self.stem = ConvBnAct(in_chans, stem_chs, 3, stem_stride, act=True)

        # (module path, channels, reduction) after the stem and after every block, for feature_info.
        taps: list[tuple[str, int, int]] = [("stem", stem_chs, stem_stride)]
        reduction = stem_stride
        blocks: list[SandglassBlock] = []
        in_chs = stem_chs
        for (t, c, n, _), s in zip(MOBILENEXT_CFG, strides, strict=True):
            out_chs = make_divisible(c * width_mult, divisor)
            if c == 1280 and width_mult < 1:
                out_chs = 1280
            for i in range(n):
                stride = s if i == 0 else 1
                keep_3x3 = i == 0 and n == 1 and s == 1
                blocks.append(SandglassBlock(in_chs, out_chs, stride, t, keep_3x3, identity_div))
                in_chs = out_chs
                reduction *= stride
                taps.append((f"blocks.{len(blocks) - 1}", out_chs, reduction))
        self.blocks = nn.Sequential(*blocks)
        # One feature per resolution: the last tap before the next downsampling, and the final one.
        self.feature_info: list[dict[str, Any]] = [
            dict(num_chs=chs, reduction=red, module=path)
            for k, (path, chs, red) in enumerate(taps)
            if k == len(taps) - 1 or taps[k + 1][2] > red
        ]
        self._stage_of_block = [si for si, (_, _, n, _) in enumerate(MOBILENEXT_CFG) for _ in range(n)]

        self.num_features = self.head_hidden_size = in_chs
        self.global_pool, self.classifier = create_classifier(in_chs, num_classes, pool_type=global_pool)
        self.head_drop = nn.Dropout(drop_rate)
        # timm's builder replaces these with the registered variant's resolved config.
        self.pretrained_cfg: dict[str, Any] = _cfg()
        self.default_cfg = self.pretrained_cfg
        _init_official(self)

    # ----- timm interface -------------------------------------------------------------------------
    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """Fine: one group per sandglass block. Coarse: one group per stage of the config."""
        if not coarse:
            return dict(stem=r"^stem\.", blocks=r"^blocks\.(\d+)\.")
        by_stage: dict[int, list[int]] = {}
        for b, si in enumerate(self._stage_of_block):
            by_stage.setdefault(si, []).append(b)
        return dict(
            stem=r"^stem\.",
            blocks=[
                (r"^blocks\.(?:" + "|".join(str(b) for b in members) + r")\.", (si,))
                for si, members in by_stage.items()
            ],
        )

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.classifier

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        self.num_classes = num_classes
        pool_type = self.global_pool.pool_type if global_pool is None else global_pool
        self.global_pool, self.classifier = create_classifier(
            self.num_features, num_classes, pool_type=pool_type
        )
        if isinstance(self.classifier, nn.Linear):
            nn.init.normal_(self.classifier.weight, 0.0, 0.01)
            nn.init.zeros_(self.classifier.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        if self.grad_checkpointing and not torch.jit.is_scripting():
            return checkpoint_seq(self.blocks, x)
        return self.blocks(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.global_pool(x)
        x = self.head_drop(x)
        return x if pre_logits else self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


# ----- timm registration ----------------------------------------------------------------------------


IMAGENET = dict(num_classes=1000, input_size=(3, 224, 224), pool_size=(7, 7), crop_pct=0.875)
PAPER = "Rethinking Bottleneck Structure for Efficient Mobile Network Design"


def _cfg(**overrides: Any) -> dict[str, Any]:
    """ImageNet statistics and input size unless ``overrides`` say otherwise."""
    imagenet = dict(IMAGENET, mean=IMAGENET_DEFAULT_MEAN, std=IMAGENET_DEFAULT_STD)
    return zoo_cfg(
        "stem.conv",
        "classifier",
        **dict(imagenet, paper_ids="arXiv:2007.02269", paper_name=PAPER, **overrides),
    )


default_cfgs = generate_default_cfgs(
    {
        "mobilenext_035": _cfg(),
        "mobilenext_050": _cfg(),
        "mobilenext_075": _cfg(),
        "mobilenext_100": _cfg(),
        "mobilenext_140": _cfg(),
        # Small-input variant for the project's 28-32 px zoo (CIFAR statistics as a default).
        "mobilenext_cifar": _cfg(
            num_classes=10, input_size=(3, 32, 32), pool_size=(4, 4), crop_pct=1.0, **CIFAR10
        ),
    }
)


def _weights_file(kwargs: dict[str, Any]) -> str | None:
    """A local weights file the caller handed to timm (``pretrained_cfg_overlay=dict(file=...)``)."""
    for key in ("pretrained_cfg_overlay", "pretrained_cfg"):
        value = kwargs.get(key)
        if isinstance(value, dict) and value.get("file"):
            return str(value["file"])
    return None


def _create_mobilenext(variant: str, pretrained: bool = False, **kwargs: Any) -> MobileNeXt:
    if pretrained and _weights_file(kwargs) is None:
        raise InvalidInput(
            f"no pretrained weights are published for {variant} in timm form (MobileNeXt is not part of "
            "timm's hub). Create it with pretrained=False and load a safetensors file yourself: "
            "model.load_state_dict(safetensors.torch.load_file(path)), or pass "
            f"timm.create_model('{variant}', pretrained=True, pretrained_cfg_overlay=dict(file=path)) "
            "or checkpoint_path=path.",
            details={"model": variant},
        )
    # The blocks live one level down in ``blocks``: timm's feature wrapper must flatten it to find them.
    feature_cfg = dict(flatten_sequential=True, **kwargs.pop("feature_cfg", {}))
    return build_model_with_cfg(MobileNeXt, variant, pretrained, feature_cfg=feature_cfg, **kwargs)


def _variant(width: float, params: str) -> Any:
    """A registered ImageNet-size MobileNeXt of this width multiplier."""
    name = f"mobilenext_{round(width * 100):03d}"

    def create(pretrained: bool = False, **kwargs: Any) -> MobileNeXt:
        return _create_mobilenext(name, pretrained, **dict(dict(width_mult=width), **kwargs))

    create.__name__ = create.__qualname__ = name
    create.__doc__ = f"MobileNeXt, width {width} ({params} parameters with 1000 classes)."
    return register_model(create)


mobilenext_035 = _variant(0.35, "1,913,976")
mobilenext_050 = _variant(0.5, "2,152,304")
mobilenext_075 = _variant(0.75, "2,766,168")
mobilenext_100 = _variant(1.0, "3,535,416; the paper's model")
mobilenext_140 = _variant(1.4, "6,126,168")


@register_model
def mobilenext_cifar(pretrained: bool = False, **kwargs: Any) -> MobileNeXt:
    """MobileNeXt for 28-32 px inputs: width 0.5, stem stride 1, first stage stride 1 (total stride 8)."""
    defaults = dict(width_mult=CIFAR_WIDTH, stem_stride=1, stage_strides=CIFAR_STAGE_STRIDES)
    return _create_mobilenext("mobilenext_cifar", pretrained, **dict(defaults, **kwargs))
