"""Three small CNNs for Model LEGO on 28–32 px images, registered with timm.

The paper disassembles VGG-16, ResNet-50 and GoogLeNet; these are the same three graph shapes at a
size two CPU cores train in a minute: a plain chain with a two-layer MLP head (``vgg_mda``), a
ResNet whose blocks use identity and projection shortcuts (``resnet_mda``) and a GoogLeNet whose
inception blocks concatenate four branches (``googlenet_mda``). Forward passes never read a stored
width, so pruned layers can replace the originals in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from torch import nn

from core.zoo.cfg import zoo_cfg

__all__ = ["GoogLeNetMda", "ResNetMda", "VggMda", "googlenet_mda", "resnet_mda", "vgg_mda"]


def conv_bn(in_chs: int, out_chs: int, kernel: int = 3, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(in_chs, out_chs, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_chs),
        nn.ReLU(inplace=True),
    ]


class _Classifier(nn.Module):
    """Shared timm interface bits: ``num_classes``, ``get_classifier``, ``forward_features``."""

    num_classes: int
    fc: nn.Module

    def get_classifier(self) -> nn.Module:
        return self.fc


class VggMda(_Classifier):
    """Conv-bn-relu units with max-pools (``"M"``), global average pool, Linear-ReLU-Linear head."""

    def __init__(
        self,
        cfg: Sequence[int | str] = (16, "M", 32, "M", 64, 64, "M"),
        num_classes: int = 10,
        in_chans: int = 1,
        hidden: int = 128,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        layers: list[nn.Module] = []
        channels = in_chans
        for value in cfg:
            if value == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += conv_bn(channels, int(value))
                channels = int(value)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(channels, hidden)
        self.act = nn.ReLU(inplace=True)
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.pool(self.features(x)), 1)
        return self.fc(self.drop(self.act(self.fc1(x))))


class BasicBlock(nn.Module):
    """Two 3×3 conv-bn, plus an identity or a 1×1 conv-bn projection shortcut, then ReLU."""

    def __init__(self, in_chs: int, out_chs: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_chs, out_chs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_chs)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_chs, out_chs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_chs)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_chs != out_chs:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_chs, out_chs, 1, stride, bias=False), nn.BatchNorm2d(out_chs)
            )
        self.act2 = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        return self.act2(y + self.shortcut(x))


class ResNetMda(_Classifier):
    """Stride-2 stem, then one BasicBlock per width (the first with an identity shortcut, the others
    with projection shortcuts), global pool, Linear."""

    def __init__(
        self, widths: Sequence[int] = (16, 32, 64), num_classes: int = 10, in_chans: int = 1, stem: int = 16
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.stem = nn.Sequential(*conv_bn(in_chans, stem, stride=2))
        blocks = []
        channels = stem
        for i, width in enumerate(widths):
            blocks.append(BasicBlock(channels, width, 1 if i == 0 else 2))
            channels = width
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))


class Inception(nn.Module):
    """Four branches concatenated: 1×1; 1×1→3×3; 1×1→3×3→3×3 (the CIFAR GoogLeNet's 5×5); pool→1×1."""

    def __init__(self, in_chs: int, b1: int, b2: tuple[int, int], b3: tuple[int, int], b4: int) -> None:
        super().__init__()
        self.b1 = nn.Sequential(*conv_bn(in_chs, b1, 1))
        self.b2 = nn.Sequential(*conv_bn(in_chs, b2[0], 1), *conv_bn(b2[0], b2[1]))
        self.b3 = nn.Sequential(*conv_bn(in_chs, b3[0], 1), *conv_bn(b3[0], b3[1]), *conv_bn(b3[1], b3[1]))
        self.b4 = nn.Sequential(*conv_bn(in_chs, b4, 1))  # after a 3×3/1 max-pool, see forward
        self.out_chs = b1 + b2[1] + b3[1] + b4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # channels-last: PyTorch's CPU 3×3/1 max-pool is ~4× faster in that layout (same values)
        pooled = F.max_pool2d(x.contiguous(memory_format=torch.channels_last), 3, 1, 1)
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(pooled)], 1)


class GoogLeNetMda(_Classifier):
    """Stride-2 stem, three inception blocks (a max-pool after the first), global pool, Linear."""

    def __init__(self, num_classes: int = 10, in_chans: int = 1, stem: int = 32) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.stem = nn.Sequential(*conv_bn(in_chans, stem, stride=2))
        self.inc1 = Inception(stem, 16, (16, 24), (8, 8), 8)
        self.pool1 = nn.MaxPool2d(2)
        self.inc2 = Inception(self.inc1.out_chs, 24, (24, 32), (8, 16), 16)
        self.inc3 = Inception(self.inc2.out_chs, 32, (32, 48), (12, 24), 24)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(self.inc3.out_chs, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inc3(self.inc2(self.pool1(self.inc1(self.stem(x)))))
        return self.fc(torch.flatten(self.pool(x), 1))


default_cfgs = generate_default_cfgs(
    {name: zoo_cfg(first_conv, "fc") for name, first_conv in
     (("vgg_mda", "features.0"), ("resnet_mda", "stem.0"), ("googlenet_mda", "stem.0"))}
)  # fmt: skip


def _registered(name: str, cls: type[nn.Module], doc: str) -> Any:
    """``cls`` as the timm architecture ``name`` (its config above)."""

    def create(pretrained: bool = False, **kwargs: Any) -> nn.Module:
        return build_model_with_cfg(cls, name, pretrained, **kwargs)

    create.__name__ = create.__qualname__ = name
    create.__doc__ = doc
    return register_model(create)


vgg_mda = _registered(
    "vgg_mda", VggMda, "VGG-style chain, 16–64 channels, MLP head (exercises the Linear thresholds)."
)
resnet_mda = _registered(
    "resnet_mda", ResNetMda, "ResNet with identity and projection shortcuts, 16–64 channels."
)
googlenet_mda = _registered(
    "googlenet_mda", GoogLeNetMda, "GoogLeNet-style net with three concatenating inception blocks."
)
