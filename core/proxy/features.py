"""Pooled features of a network, the input of transferability proxies such as LogME."""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor, nn

from core.errors import InvalidInput


def _global_pool(x: Tensor) -> Tensor:
    """Fallback pooling: NCHW maps → mean over H, W; token sequences (B, N, C) → mean over tokens."""
    if x.ndim == 4:
        return x.mean(dim=(2, 3))
    if x.ndim == 3:
        return x.mean(dim=1)
    if x.ndim == 2:
        return x
    raise InvalidInput(f"cannot pool a feature tensor of shape {tuple(x.shape)} into one vector per image")


def _pooled(net: nn.Module, x: Tensor) -> Tensor:
    forward_features = getattr(net, "forward_features", None)
    if not callable(forward_features):
        return _global_pool(net(x))
    feats = forward_features(x)
    forward_head = getattr(net, "forward_head", None)
    if callable(forward_head) and "pre_logits" in inspect.signature(forward_head).parameters:
        return _global_pool(forward_head(feats, pre_logits=True))
    head_pool = getattr(getattr(net, "head", None), "pool", None)
    if callable(head_pool):  # the reassembled network's PoolHead knows its layout (NHWC, class token)
        return _global_pool(head_pool(feats))
    return _global_pool(feats)


@torch.no_grad()
def pooled_features(net: nn.Module, images: Tensor, *, batch_size: int = 64) -> Tensor:
    """One feature vector per image (N, D), float32 on the CPU, with ``net`` in eval mode.

    Order of preference: timm's ``forward_features`` then ``forward_head(pre_logits=True)`` (the
    model's own pooling: class token, NHWC maps, ...); ``forward_features`` then ``net.head.pool``
    (core.stitch's reassembled network); ``forward_features`` then global average pooling (NCHW
    maps, token means); and for networks without ``forward_features``, the pooled output of ``net``
    itself (then the features are the logits). The caller's training flags are restored afterwards.
    """
    if images.ndim < 2 or images.shape[0] == 0:
        raise InvalidInput(
            f"pooled_features needs a non-empty batch of images, got shape {tuple(images.shape)}"
        )
    flags: dict[nn.Module, bool] = {m: m.training for m in net.modules()}
    device = next((p.device for p in net.parameters()), torch.device("cpu"))
    chunks: list[Any] = []
    net.eval()
    try:
        for start in range(0, int(images.shape[0]), batch_size):
            chunks.append(_pooled(net, images[start : start + batch_size].to(device)).float().cpu())
    finally:
        for m, flag in flags.items():
            m.training = flag
    return torch.cat(chunks, dim=0)
