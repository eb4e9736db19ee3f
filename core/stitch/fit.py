"""Least-squares initialisation of a stitch (the SN-Net idea, our own implementation).

The affine map W·a + b is fitted so the stitch's output matches, on probe images, the tensor the next
block receives inside its own model. Ridge-regularised normal equations on centred features in
float64: W = (Cov_aa + λI)⁻¹ Cov_at, b = mean_t − W·mean_a, with λ = ridge · trace(Cov_aa)/dim so the
ridge is relative to the average feature variance (unchanged when all features are rescaled), and
chosen on held-out probe images unless given.
Learned prefix tokens (a class token the source cannot supply) are set to the mean of their targets,
which is their least-squares optimum.
"""

from __future__ import annotations

import torch
from torch import Tensor

from core.errors import InvalidInput
from core.stitch.adapter import Stitch

# Ridge values are relative to the mean feature variance. No single value serves both ends: a ViT's
# residual stream spans five decades of variance, so the same-model identity check needs <= 1e-6,
# while cross-model stitches fitted on a few hundred images generalise better at 1e-2..1e-1
# (docs/notes/stitch.md). So by default the ridge is chosen on held-out probe images.
RIDGE_GRID = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
DEFAULT_RIDGE = 1e-6  # used when there are too few images to hold any out
HOLDOUT_EVERY = 5  # image i is held out when i % 5 == 4


def _check_batch(stitch: Stitch, src: Tensor, dst: Tensor) -> None:
    if src.shape[1:] != torch.Size(stitch.src.shape):
        raise InvalidInput(
            f"source features have shape {tuple(src.shape[1:])}, stitch expects {stitch.src.shape}"
        )
    if dst.shape[1:] != torch.Size(stitch.dst.shape):
        raise InvalidInput(
            f"target features have shape {tuple(dst.shape[1:])}, stitch expects {stitch.dst.shape}"
        )
    if src.shape[0] != dst.shape[0] or src.shape[0] < 2:
        raise InvalidInput(
            "least squares needs the same >= 2 probe images on both sides, "
            f"got {src.shape[0]} and {dst.shape[0]}"
        )


class _Moments:
    """Second moments of (design row, target row) pairs, shifted by fixed means for accuracy:
    with ã = [a − μ_a, 1] and t̃ = t − μ_t it holds Σ ã ãᵀ, Σ ã t̃ᵀ and Σ ‖t̃‖²."""

    def __init__(self, d: int, c: int, device: torch.device | str = "cpu"):
        self.aa = torch.zeros(d + 1, d + 1, dtype=torch.float64, device=device)
        self.at = torch.zeros(d + 1, c, dtype=torch.float64, device=device)
        self.tt = torch.zeros((), dtype=torch.float64, device=device)

    def add(self, a: Tensor, t: Tensor) -> None:
        a1 = torch.cat([a, torch.ones(a.shape[0], 1, dtype=a.dtype, device=a.device)], dim=1)
        self.aa += a1.T @ a1
        self.at += a1.T @ t
        self.tt += t.pow(2).sum()

    def __add__(self, other: _Moments) -> _Moments:
        out = _Moments(self.aa.shape[0] - 1, self.at.shape[1], self.aa.device)
        out.aa, out.at, out.tt = self.aa + other.aa, self.at + other.at, self.tt + other.tt
        return out

    def centred(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(Cov_aa, Cov_at, mean ã, mean t̃) about this set's own means."""
        n = self.aa[-1, -1]
        m_a, m_t = self.aa[-1, :-1] / n, self.at[-1] / n
        return (
            self.aa[:-1, :-1] - n * torch.outer(m_a, m_a),
            self.at[:-1] - n * torch.outer(m_a, m_t),
            m_a,
            m_t,
        )

    def solve(self, ridge: float) -> Tensor:
        """The ridge solution as a (d+1, c) matrix [W; b] in shifted coordinates."""
        cov_aa, cov_at, m_a, m_t = self.centred()
        d = cov_aa.shape[0]
        lam = ridge * float(cov_aa.diagonal().sum()) / d
        lam = lam if lam > 0 else max(ridge, 1e-12)
        eye = torch.eye(d, dtype=torch.float64, device=cov_aa.device)
        w = torch.linalg.solve(cov_aa + lam * eye, cov_at)
        return torch.cat([w, (m_t - m_a @ w)[None]], dim=0)

    def error(self, wb: Tensor) -> float:
        """Σ ‖t̃ − ã·[W; b]‖² over this set."""
        return float(self.tt - 2 * (wb * self.at).sum() + (wb * (self.aa @ wb)).sum())


@torch.no_grad()
def fit_stitch(
    stitch: Stitch, src_features: Tensor, dst_target: Tensor, ridge: float | None = None, chunk: int = 32
) -> float:
    """Fit ``stitch`` so stitch(src_features) ≈ dst_target; returns the relative residual
    ||stitch(src) − target|| / ||target|| of the fitted float32 stitch on these images.

    ``ridge=None`` chooses it: every fifth image is held out, the ridge in ``RIDGE_GRID`` with the
    smallest held-out error wins, and the map is refitted on all images with it. The chosen value
    is kept in ``stitch.fit_ridge``."""
    _check_batch(stitch, src_features, dst_target)
    device = next(stitch.parameters()).device  # the stitch's device: features are moved there
    src_features, dst_target = src_features.to(device), dst_target.to(device)
    if ridge is not None and ridge < 0:
        raise InvalidInput(f"ridge must be >= 0, got {ridge}")
    n_img = src_features.shape[0]
    spans = [(i, min(i + chunk, n_img)) for i in range(0, n_img, chunk)]

    def rows(i: int, j: int) -> tuple[Tensor, Tensor, Tensor | None]:
        a = stitch.design_rows(src_features[i:j].float()).double()
        t, learned = stitch.target_rows(dst_target[i:j].float())
        return a, t.double(), learned

    # pass 1: means (the shift), pass 2: shifted second moments per fold
    n_rows, sum_a, sum_t, sum_l = 0, None, None, None
    for i, j in spans:
        a, t, learned = rows(i, j)
        n_rows += a.shape[0]
        sum_a = a.sum(0) if sum_a is None else sum_a + a.sum(0)
        sum_t = t.sum(0) if sum_t is None else sum_t + t.sum(0)
        if learned is not None:
            ls = learned.double().sum(0)
            sum_l = ls if sum_l is None else sum_l + ls
    assert sum_a is not None and sum_t is not None
    mu_a, mu_t = sum_a / n_rows, sum_t / n_rows
    dev = mu_a.device
    folds = (_Moments(mu_a.numel(), mu_t.numel(), dev), _Moments(mu_a.numel(), mu_t.numel(), dev))
    for i, j in spans:
        a, t, _ = rows(i, j)
        per_image = a.shape[0] // (j - i)
        held = (torch.arange(i, j, device=dev) % HOLDOUT_EVERY == HOLDOUT_EVERY - 1).repeat_interleave(
            per_image
        )
        a, t = a - mu_a, t - mu_t
        folds[0].add(a[~held], t[~held])
        if held.any():
            folds[1].add(a[held], t[held])
    if ridge is None:
        ridge = DEFAULT_RIDGE
        if n_img >= 2 * HOLDOUT_EVERY:
            errors = [folds[1].error(folds[0].solve(r)) for r in RIDGE_GRID]
            ridge = RIDGE_GRID[min(range(len(errors)), key=errors.__getitem__)]
    wb = (folds[0] + folds[1]).solve(ridge)
    weight_t, bias = wb[:-1], wb[-1] + mu_t - mu_a @ wb[:-1]
    learned_mean = None if sum_l is None else sum_l / n_img
    stitch.set_affine(weight_t.T.contiguous(), bias, learned_mean)
    stitch.fit_ridge = ridge
    stitch.fit_residual = relative_residual(stitch, src_features, dst_target, chunk)
    return stitch.fit_residual


@torch.no_grad()
def relative_residual(stitch: Stitch, src_features: Tensor, dst_target: Tensor, chunk: int = 32) -> float:
    """||stitch(src) − target||_F / ||target||_F over a batch, accumulated in float64."""
    was_training = stitch.training
    stitch.eval()
    err, ref = 0.0, 0.0
    try:
        for i in range(0, src_features.shape[0], chunk):
            y = stitch(src_features[i : i + chunk].float()).double()
            t = dst_target[i : i + chunk].double()
            err += float((y - t).pow(2).sum())
            ref += float(t.pow(2).sum())
    finally:
        stitch.train(was_training)
    return (err / ref) ** 0.5 if ref > 0 else (0.0 if err == 0 else float("inf"))
