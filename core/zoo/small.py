"""Small CIFAR-scale (28–32 px) architectures for the project's zoo, registered with timm.

Each is a timm architecture class with small-input settings (a ResNet, MobileNetV2 from timm's
EfficientNet builder, a ViT, a ConvNeXt) or, for the VGG-style net that timm lacks at this size, a
plain conv-bn-relu stack with timm's model interface. Every trunk is a line graph of blocks, so
``core.dissect`` cuts them into nodes. Importing this module (``import core.zoo``) registers:

=====================  ================================================================  =====
name                   trunk at 32 px input                                              nodes
=====================  ================================================================  =====
``resnet_cifar``       timm ResNet, BasicBlock ×(2,2,2,2), 16–128 ch, timm's 7×7/2 + pool     8
``vgg_cifar``          conv-bn-relu units 24–96 ch after a stride-2 stem, pool every 2nd      5
``mobilenetv2_cifar``  timm MobileNetV2 ×0.5 (inverted residuals), total stride 16, 512 head  17
``vit_cifar``          timm ViT, 8×8 patches (16 + class token), 96-d, depth 6, 3 heads       6
``convnext_cifar``     timm ConvNeXt, 2×2 patch stem, depths (1,1,3,1), 24–192 ch            10
=====================  ================================================================  =====

(ConvNeXt: 6 blocks + 4 downsample layers; with a 2×2 stem timm gives stage 0 a downsample too.)
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
from timm.layers import create_classifier
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models._efficientnet_builder import (
    decode_arch_def,
    resolve_act_layer,
    resolve_bn_args,
    round_channels,
)
from timm.models.convnext import ConvNeXt
from timm.models.efficientnet import EfficientNet
from timm.models.resnet import BasicBlock, ResNet
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from core.zoo.cfg import zoo_cfg

__all__ = ["VggCifar", "convnext_cifar", "mobilenetv2_cifar", "resnet_cifar", "vgg_cifar", "vit_cifar"]

VGG_CIFAR_CFG: tuple[int | str, ...] = (24, "M", 48, 48, "M", 96, 96, "M")


class VggCifar(nn.Module):
    """VGG-style classifier: a stride-2 conv-bn-relu stem, then ``blocks``, an ``nn.Sequential`` of
    conv-bn-relu units (each followed by its max-pool when the config says ``"M"``), global pool, linear.

    Args:
        cfg: output channels per unit, ``"M"`` = 2×2 max-pool closing the previous unit.
        stem_width: channels of the stem conv (stride 2).
    """

    def __init__(
        self,
        cfg: Sequence[int | str] = VGG_CIFAR_CFG,
        num_classes: int = 10,
        in_chans: int = 3,
        stem_width: int = 16,
        drop_rate: float = 0.0,
        global_pool: str = "avg",
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.stem = nn.Sequential(*_conv_unit(in_chans, stem_width, stride=2))
        units: list[list[nn.Module]] = []
        channels = stem_width
        for value in cfg:
            if value == "M":
                if not units:
                    raise ValueError("a VGG config cannot start with 'M'")
                units[-1].append(nn.MaxPool2d(2))
            else:
                units.append(_conv_unit(channels, int(value)))
                channels = int(value)
        self.blocks = nn.Sequential(*(nn.Sequential(*unit) for unit in units))
        self.num_features = self.head_hidden_size = channels
        self.global_pool, self.fc = create_classifier(channels, num_classes, pool_type=global_pool)
        self.head_drop = nn.Dropout(drop_rate)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^stem\.", blocks=r"^blocks\.(\d+)\.")

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int, global_pool: str = "avg") -> None:
        self.num_classes = num_classes
        self.global_pool, self.fc = create_classifier(self.num_features, num_classes, pool_type=global_pool)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.head_drop(self.global_pool(x))
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _conv_unit(in_chs: int, out_chs: int, stride: int = 1) -> list[nn.Module]:
    conv = nn.Conv2d(in_chs, out_chs, 3, stride=stride, padding=1, bias=False)
    return [conv, nn.BatchNorm2d(out_chs), nn.ReLU(inplace=True)]


default_cfgs = generate_default_cfgs(
    {
        "resnet_cifar": zoo_cfg("conv1", "fc"),
        "vgg_cifar": zoo_cfg("stem.0", "fc"),
        "mobilenetv2_cifar": zoo_cfg("conv_stem", "classifier"),
        "vit_cifar": zoo_cfg("patch_embed.proj", "head"),
        "convnext_cifar": zoo_cfg("stem.0", "head.fc"),
    }
)


@register_model
def resnet_cifar(pretrained: bool = False, **kwargs: Any) -> ResNet:
    """timm ResNet-18 layout (BasicBlocks 2,2,2,2) at channels 16–128 with timm's own stem."""
    args: dict[str, Any] = dict(
        block=BasicBlock, layers=(2, 2, 2, 2), channels=(16, 32, 64, 128), stem_width=16
    )
    args.update(kwargs)
    return build_model_with_cfg(ResNet, "resnet_cifar", pretrained, **args)


@register_model
def vgg_cifar(pretrained: bool = False, **kwargs: Any) -> VggCifar:
    """VGG-style conv-bn-relu net for 32 px inputs (five units, 24–96 channels)."""
    return build_model_with_cfg(VggCifar, "vgg_cifar", pretrained, **kwargs)


@register_model
def mobilenetv2_cifar(pretrained: bool = False, **kwargs: Any) -> EfficientNet:
    """timm MobileNetV2 (inverted residuals, ReLU6) at width 0.5 with the total stride cut to 16
    (the 64-channel stage keeps stride 1: 32 px in -> 2x2 before pooling), and a 512-d head conv.
    ``channel_multiplier`` (0.5) and ``depth_multiplier`` (1.0) scale it as in timm."""
    arch_def = [
        ["ds_r1_k3_s1_c16"],
        ["ir_r2_k3_s2_e6_c24"],
        ["ir_r3_k3_s2_e6_c32"],
        ["ir_r4_k3_s1_e6_c64"],
        ["ir_r3_k3_s1_e6_c96"],
        ["ir_r3_k3_s2_e6_c160"],
        ["ir_r1_k3_s1_e6_c320"],
    ]
    multiplier = kwargs.pop("channel_multiplier", 0.5)
    args: dict[str, Any] = dict(
        block_args=decode_arch_def(arch_def, depth_multiplier=kwargs.pop("depth_multiplier", 1.0)),
        num_features=kwargs.pop("num_features", 512),
        stem_size=16,
        fix_stem=True,
        round_chs_fn=partial(round_channels, multiplier=multiplier),
        norm_layer=kwargs.pop("norm_layer", None) or partial(nn.BatchNorm2d, **resolve_bn_args(kwargs)),
        act_layer=resolve_act_layer(kwargs, "relu6"),
    )
    args.update(kwargs)
    return build_model_with_cfg(EfficientNet, "mobilenetv2_cifar", pretrained, **args)


@register_model
def vit_cifar(pretrained: bool = False, **kwargs: Any) -> VisionTransformer:
    """timm ViT for 32 px: 4×4 patches (64 tokens + class token), width 96, depth 6, 3 heads."""
    args: dict[str, Any] = dict(img_size=32, patch_size=8, embed_dim=96, depth=6, num_heads=3, mlp_ratio=2.0)
    args.update(kwargs)
    return build_model_with_cfg(VisionTransformer, "vit_cifar", pretrained, **args)


@register_model
def convnext_cifar(pretrained: bool = False, **kwargs: Any) -> ConvNeXt:
    """timm ConvNeXt for 32 px: 2×2 patchify stem, depths (1,1,3,1), widths 24–192."""
    args: dict[str, Any] = dict(depths=(1, 1, 3, 1), dims=(24, 48, 96, 192), patch_size=2)
    args.update(kwargs)
    return build_model_with_cfg(ConvNeXt, "convnext_cifar", pretrained, **args)
