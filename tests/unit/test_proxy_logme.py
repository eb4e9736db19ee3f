"""LogME: the fixed point maximises the evidence, ranking sanity, pooled features."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import timm
import torch
from torch import nn

from core.errors import InvalidInput
from core.proxy import logme, pooled_features
from core.proxy.logme import class_evidence

SUBSET = Path(__file__).resolve().parents[2] / "data" / "fashion_subset.npz"


def dense_evidence(f: np.ndarray, y: np.ndarray, alpha: float, beta: float) -> float:
    """log p(y | F, α, β) / N straight from the definition (D×D matrices, no SVD)."""
    n, d = f.shape
    a = alpha * np.eye(d) + beta * f.T @ f
    m = beta * np.linalg.solve(a, f.T @ y)
    resid = float(np.sum((f @ m - y) ** 2))
    ev = (
        0.5 * n * math.log(beta)
        + 0.5 * d * math.log(alpha)
        - 0.5 * n * math.log(2 * math.pi)
        - 0.5 * beta * resid
        - 0.5 * alpha * float(m @ m)
        - 0.5 * np.linalg.slogdet(a)[1]
    )
    return ev / n


@pytest.mark.parametrize(("n", "d"), [(120, 16), (30, 50)])  # more samples than features, and fewer
def test_fixed_point_equals_and_maximises_the_dense_evidence(n: int, d: int) -> None:
    rng = np.random.default_rng(0)
    f = rng.normal(size=(n, d))
    y = (f[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(np.float64)
    u, s, _ = np.linalg.svd(f, full_matrices=False)
    value, alpha, beta = class_evidence(u.T @ y, float(y @ y), s**2, n, d)
    assert value == pytest.approx(dense_evidence(f, y, alpha, beta), abs=1e-9)
    for fa, fb in [(1.5, 1), (1 / 1.5, 1), (1, 1.5), (1, 1 / 1.5)]:
        assert dense_evidence(f, y, alpha * fa, beta * fb) <= value + 1e-9


@pytest.mark.parametrize(("n", "d"), [(200, 24), (40, 90)])
def test_logme_matches_the_svd_form_also_when_rank_deficient(n: int, d: int) -> None:
    rng = np.random.default_rng(2)
    f = rng.normal(size=(n, d))
    f[:, 1] = f[:, 0]  # exactly rank deficient
    labels = rng.integers(0, 4, size=n)
    u, s, _ = np.linalg.svd(f, full_matrices=False)
    keep = s > 1e-8 * s.max()
    u, sigma = u[:, keep], s[keep] ** 2
    per_class = []
    for c in range(4):
        y = (labels == c).astype(np.float64)
        per_class.append(class_evidence(u.T @ y, float(y @ y), sigma, n, d)[0])
    assert logme(f, labels) == pytest.approx(float(np.mean(per_class)), rel=1e-7, abs=1e-9)


def test_features_that_encode_the_labels_score_higher() -> None:
    labels = np.load(SUBSET)["labels"][:600].astype(np.int64)
    rng = np.random.default_rng(1)
    informative = np.eye(10)[labels] @ rng.normal(size=(10, 32)) + 0.3 * rng.normal(size=(600, 32))
    noise = rng.normal(size=(600, 32))
    assert logme(informative, labels) > logme(noise, labels) + 0.5


def test_bad_inputs_are_invalid() -> None:
    with pytest.raises(InvalidInput, match="2 classes"):
        logme(np.ones((5, 3)), np.zeros(5))
    with pytest.raises(InvalidInput, match="one label per"):
        logme(np.ones((5, 3)), np.arange(4))
    with pytest.raises(InvalidInput, match="NaN"):
        logme(np.full((4, 3), np.nan), np.array([0, 1, 0, 1]))


def test_pooled_features_use_the_timm_head_and_restore_flags() -> None:
    net: Any = timm.create_model("test_resnet", pretrained=False, in_chans=1, num_classes=10)
    net.train()
    x = torch.randn(10, 1, 32, 32)
    feats = pooled_features(net, x, batch_size=4)
    assert feats.shape == (10, net.num_features)
    assert all(m.training for m in net.modules())
    net.eval()
    with torch.no_grad():
        expected = net.forward_head(net.forward_features(x), pre_logits=True)
    assert torch.allclose(feats, expected, atol=1e-5)


def test_pooled_features_fallback_pools_the_output() -> None:
    net = nn.Sequential(nn.Conv2d(1, 6, 3))  # no forward_features: the output map is averaged
    x = torch.randn(3, 1, 8, 8)
    feats = pooled_features(net, x)
    assert torch.allclose(feats, net(x).mean(dim=(2, 3)).detach(), atol=1e-6)
