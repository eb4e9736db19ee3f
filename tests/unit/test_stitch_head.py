"""The closed-form head: ridge chosen on validation, and the network computes what the fit reports."""

from __future__ import annotations

import torch

from core.stitch import Endpoint, PoolHead
from core.stitch.head import RIDGES, fit_head_on_features


def _data(n: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Wide features on few images; one informative direction, plus a huge-offset, nearly constant
    feature of the kind that broke a float32 head folded from the standardisation."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (n,), generator=gen)
    feats = torch.randn(n, d, generator=gen)
    feats[:, 0] += 1.5 * labels
    feats[:, 1] = 1e4 + 1e-3 * torch.randn(n, generator=gen)
    return feats, labels


def _accuracy(head: PoolHead, feats: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float((head(feats[:, :, None, None]).argmax(1) == labels).double().mean())


def test_ridge_is_chosen_on_validation_and_matches_the_network() -> None:
    fit, val = _data(60, 200, 0), _data(300, 200, 1)
    head = PoolHead(Endpoint("map_nchw", (200, 1, 1)), 3)
    chosen = fit_head_on_features(head, *fit, validation=val, ridges=RIDGES)
    per_ridge = {}
    for ridge in RIDGES:
        other = PoolHead(Endpoint("map_nchw", (200, 1, 1)), 3)
        per_ridge[ridge] = fit_head_on_features(other, *fit, validation=val, ridges=(ridge,))
        assert per_ridge[ridge].validation_accuracy == _accuracy(other, *val)
    assert chosen.validation_accuracy == max(r.validation_accuracy or 0 for r in per_ridge.values())
    assert chosen.validation_accuracy == _accuracy(head, *val)
    assert chosen.fit_accuracy == _accuracy(head, *fit)
    # The smallest ridge interpolates the 60 fit images and generalises worse than the chosen one.
    assert per_ridge[min(RIDGES)].fit_accuracy == 1.0
    assert chosen.validation_accuracy > (per_ridge[min(RIDGES)].validation_accuracy or 0)
