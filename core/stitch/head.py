"""The new classification head (pool → Linear) and its closed-form ridge fit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from core.errors import InvalidInput
from core.proxy.features import pooled_features
from core.stitch.plan import Endpoint

if TYPE_CHECKING:
    from core.stitch.network import ReassembledNet


class PoolHead(nn.Module):
    """Global pooling of the last block's output, then a Linear to the target classes.

    Pooling: maps average over space, tokens over all tokens (class token included). Measured on the
    fashion zoo, the token mean beat the class token for every ViT-ending candidate with LS stitches
    (+1 to +6 points, docs/notes/stitch.md): after a stitch the class token has seen only the last
    block's few attention layers."""

    feature_mean: Tensor
    feature_scale: Tensor

    def __init__(self, features: Endpoint, num_classes: int, seed: int = 0):
        super().__init__()
        if num_classes < 1:
            raise InvalidInput(f"num_classes must be >= 1, got {num_classes}")
        self.features = features
        self.fc = nn.Linear(features.channels, num_classes)
        # Standardisation of the pooled features, set by the closed-form fit (identity until then):
        # keeping it apart from ``fc`` avoids huge float32 weights for nearly constant features.
        self.register_buffer("feature_mean", torch.zeros(features.channels))
        self.register_buffer("feature_scale", torch.ones(features.channels))
        gen = torch.Generator().manual_seed(seed)
        bound = 1.0 / math.sqrt(features.channels)
        with torch.no_grad():
            self.fc.weight.copy_(torch.rand(self.fc.weight.shape, generator=gen).mul(2 * bound).sub(bound))
            self.fc.bias.zero_()

    def pool(self, x: Tensor) -> Tensor:
        kind = self.features.kind
        if kind == "map_nchw":
            return x.mean(dim=(2, 3))
        if kind == "map_nhwc":
            return x.mean(dim=(1, 2))
        return x.mean(dim=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc((self.pool(x) - self.feature_mean) / self.feature_scale)


RIDGES = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


@dataclass(frozen=True)
class HeadFit:
    """The closed-form head's chosen ridge and its accuracies (validation when it chose the ridge)."""

    ridge: float
    fit_accuracy: float
    validation_accuracy: float | None = None


def _check_labels(feats: Tensor, labels: Tensor, num_classes: int) -> None:
    if len(feats) != len(labels) or len(feats) < 2:
        raise InvalidInput(f"need the same >= 2 images and labels, got {len(feats)} and {len(labels)}")
    if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
        raise InvalidInput(
            f"labels must lie in [0, {num_classes}), got [{int(labels.min())}, {int(labels.max())}]"
        )


@torch.no_grad()
def fit_head_on_features(
    head: PoolHead,
    feats: Tensor,
    labels: Tensor,
    validation: tuple[Tensor, Tensor] | None = None,
    ridges: Sequence[float] = (1e-3,),
) -> HeadFit:
    """Ridge regression of one-hot labels on standardised pooled features, set as the head's
    standardisation and ``fc`` (no gradient step). With ``validation`` (pooled features, labels)
    the ridge is the one of ``ridges`` with the best validation accuracy (ties: the larger ridge,
    the smoother head): wide features on few images overfit badly with a fixed small ridge."""
    num_classes = head.fc.out_features
    labels = labels.to(feats.device).long()
    if validation is not None:  # everything on the features' device (labels often come from the CPU)
        validation = (validation[0].to(feats.device), validation[1].to(feats.device))
    _check_labels(feats, labels, num_classes)
    x = feats.double()
    mean = x.mean(0)
    std = x.std(0).clamp_min(1e-4 * float(x.std(0).max()) + 1e-12)
    z = (x - mean) / std
    y = torch.nn.functional.one_hot(labels, num_classes).double()
    y_mean = y.mean(0)
    eigvals, eigvecs = torch.linalg.eigh(z.T @ z)
    projected = eigvecs.T @ (z.T @ (y - y_mean))
    scale = float(eigvals.clamp_min(0).sum()) / z.shape[1]

    def solve(ridge: float) -> Tensor:
        return eigvecs @ (projected / (eigvals.clamp_min(0) + ridge * scale + 1e-12)[:, None])

    def standardised(f: Tensor) -> Tensor:
        return (f.float() - mean.float()) / std.float()

    def accuracy(beta: Tensor, f: Tensor, lab: Tensor) -> float:
        """As the network computes it, in float32."""
        logits = standardised(f) @ beta.float() + y_mean.float()
        return float((logits.argmax(1) == lab.to(logits.device).long()).double().mean())

    chosen = ridges[0]
    if validation is not None:
        _check_labels(*validation, num_classes)
        if len(ridges) > 1:
            scored = [(accuracy(solve(r), *validation), r) for r in ridges]
            chosen = max(scored)[1]
    beta = solve(chosen)
    head.feature_mean.copy_(mean.float())
    head.feature_scale.copy_(std.float())
    head.fc.weight.copy_(beta.T.float())
    head.fc.bias.copy_(y_mean.float())
    val_acc = accuracy(beta, *validation) if validation is not None else None
    return HeadFit(ridge=chosen, fit_accuracy=accuracy(beta, feats, labels), validation_accuracy=val_acc)


@torch.no_grad()
def fit_head_closed_form(
    net: ReassembledNet, images: Tensor, labels: Tensor, ridge: float = 1e-3, batch_size: int = 64
) -> float:
    """:func:`fit_head_on_features` on the network's pooled features of ``images`` with a fixed ridge.
    Returns the accuracy on the fitting images."""
    if len(images) != len(labels):
        raise InvalidInput(f"need the same >= 2 images and labels, got {len(images)} and {len(labels)}")
    feats = pooled_features(net, images, batch_size=batch_size)
    return fit_head_on_features(net.head, feats, labels, ridges=(ridge,)).fit_accuracy
