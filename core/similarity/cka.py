"""Unbiased HSIC and minibatch linear CKA (Nguyen, Raghu & Kornblith 2021).

For a minibatch of n ≥ 4 images with linear Gram matrices K = XXᵀ and L = YYᵀ, the unbiased
HSIC estimator of Song et al. (2012) equals ⟨K̃, L̃⟩_F / (n(n−3)), where K̃ is the *U-centred*
Gram (Székely & Rizzo 2014): zero diagonal, and every off-diagonal entry with its row and column
effects removed. Minibatch CKA sums HSIC over a fixed sequence of minibatches before normalising:

    CKA(X, Y) = Σ_b HSIC₁(K_b, L_b) / sqrt(Σ_b HSIC₁(K_b, K_b) · Σ_b HSIC₁(L_b, L_b)).

With every minibatch the same size n, the 1/(n(n−3)) factors cancel, so CKA is the cosine
between the concatenated U-centred Grams. That is what makes a Gram sketch useful: the CKA of any
two points of any two models is one dot product of their flattened sketches.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from core.errors import InvalidInput

#: Elements (per side) converted from float16 to float32 at once by ``cka_matrix``; bounds memory.
CHUNK_ELEMENTS = 1 << 24


def u_centre(gram: torch.Tensor) -> torch.Tensor:
    """U-centre an (n, n) Gram matrix (or a stack (..., n, n)); n ≥ 4. Returns the same dtype."""
    n = gram.shape[-1]
    if gram.ndim < 2 or gram.shape[-2] != n:
        raise InvalidInput(f"a Gram matrix must be square, got shape {tuple(gram.shape)}")
    if n < 4:
        raise InvalidInput(f"the unbiased HSIC needs at least 4 samples per minibatch, got {n}")
    eye = torch.eye(n, dtype=torch.bool, device=gram.device)
    k = gram.masked_fill(eye, 0.0)
    rows = k.sum(dim=-1, keepdim=True)
    total = rows.sum(dim=-2, keepdim=True)
    u = k - rows / (n - 2) - rows.transpose(-1, -2) / (n - 2) + total / ((n - 1) * (n - 2))
    return u.masked_fill(eye, 0.0)


def hsic1(k_tilde: torch.Tensor, l_tilde: torch.Tensor) -> torch.Tensor:
    """Unbiased HSIC of two U-centred Grams (n, n) → scalar."""
    n = k_tilde.shape[-1]
    return (k_tilde * l_tilde).sum(dim=(-2, -1)) / (n * (n - 3))


def linear_gram(features: torch.Tensor, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """(B, C) features → (B, B) linear Gram of the batch-centred features, in ``dtype`` (float64
    unless asked; the sketch pass uses float32 on the features' device).

    Centring the features first changes nothing after U-centring (which removes every row and
    column effect exactly) but keeps float cancellation away from post-ReLU features whose mean is
    large compared with their spread.
    """
    f = features.detach().to(dtype)
    f = f - f.mean(dim=0, keepdim=True)
    return f @ f.T


def minibatch_cka(xs: Sequence[torch.Tensor], ys: Sequence[torch.Tensor]) -> float:
    """Minibatch CKA from feature minibatches (xs[b]: (n_b, C1), ys[b]: (n_b, C2)), in float64.

    A direct implementation for checking and small uses; the service goes through sketches.
    """
    if len(xs) != len(ys) or not xs:
        raise InvalidInput("minibatch CKA needs the same, non-zero number of minibatches on both sides")
    kk = kl = ll = 0.0
    for x, y in zip(xs, ys, strict=True):
        if x.shape[0] != y.shape[0]:
            raise InvalidInput(f"minibatch sizes differ: {x.shape[0]} vs {y.shape[0]}")
        k = u_centre(linear_gram(x))
        lt = u_centre(linear_gram(y))
        kk += float(hsic1(k, k))
        kl += float(hsic1(k, lt))
        ll += float(hsic1(lt, lt))
    return _normalise(kl, kk, ll)


def _normalise(kl: float, kk: float, ll: float) -> float:
    denom = float(np.sqrt(max(kk, 0.0) * max(ll, 0.0)))
    return kl / denom if denom > 0.0 else 0.0


def _work_dtype(*sketches: torch.Tensor) -> torch.dtype:
    """float32 for float16 stores (exact products); float64 stays float64."""
    wide = any(s.dtype == torch.float64 for s in sketches)
    return torch.float64 if wide else torch.float32


def _flat(sketch: torch.Tensor) -> torch.Tensor:
    if sketch.ndim != 4 or sketch.shape[-1] != sketch.shape[-2]:
        raise InvalidInput(f"a Gram sketch has shape (points, batches, B, B), got {tuple(sketch.shape)}")
    return sketch.reshape(sketch.shape[0], -1)


def sketch_products(sketches: Sequence[torch.Tensor]) -> np.ndarray:
    """Σ_b ⟨K̃_b, L̃_b⟩ for every pair of points of the stacked sketches → (T, T) float64.

    One matrix product of the stacked, flattened sketches, taken in column chunks so that at most
    ``CHUNK_ELEMENTS`` float32 values per point-row are alive at once (exact float16·float16
    products in float32, chunk sums accumulated in float64).
    """
    if not sketches:
        raise InvalidInput("no sketches given")
    flats = [_flat(s) for s in sketches]
    width = flats[0].shape[1]
    for s, f in zip(sketches, flats, strict=True):
        if f.shape[1] != width or s.shape[1:] != sketches[0].shape[1:]:
            raise InvalidInput(
                "sketches were not computed on the same probe batches: shapes "
                f"{tuple(sketches[0].shape[1:])} and {tuple(s.shape[1:])} differ in (batches, B, B)"
            )
    total = sum(f.shape[0] for f in flats)
    step = max(1, CHUNK_ELEMENTS // max(total, 1))
    out = torch.zeros(total, total, dtype=torch.float64)
    for start in range(0, width, step):
        block = torch.cat([f[:, start : start + step] for f in flats]).to(_work_dtype(*flats))
        out += (block @ block.T).to(torch.float64)
    return out.numpy()


def cka_from_products(products: np.ndarray) -> np.ndarray:
    """(T, T) matrix of Σ_b⟨K̃_b,L̃_b⟩ → CKA matrix; a point with zero self-HSIC gets CKA 0."""
    diag = np.clip(np.diag(products), 0.0, None)
    norm = np.sqrt(np.outer(diag, diag))
    with np.errstate(invalid="ignore", divide="ignore"):
        cka = np.where(norm > 0.0, products / np.where(norm > 0.0, norm, 1.0), 0.0)
    return np.clip(cka, -1.0, 1.0)


def cka_matrix(sketch_a: torch.Tensor, sketch_b: torch.Tensor) -> np.ndarray:
    """Minibatch CKA of every point of sketch_a with every point of sketch_b → (Pa, Pb) float64."""
    if sketch_a is sketch_b:
        return cka_from_products(sketch_products([sketch_a]))
    fa, fb = _flat(sketch_a), _flat(sketch_b)
    if sketch_a.shape[1:] != sketch_b.shape[1:]:
        raise InvalidInput(
            "sketches were not computed on the same probe batches: shapes "
            f"{tuple(sketch_a.shape[1:])} and {tuple(sketch_b.shape[1:])} differ in (batches, B, B)"
        )
    step = max(1, CHUNK_ELEMENTS // (fa.shape[0] + fb.shape[0]))
    cross = torch.zeros(fa.shape[0], fb.shape[0], dtype=torch.float64)
    na = torch.zeros(fa.shape[0], dtype=torch.float64)
    nb = torch.zeros(fb.shape[0], dtype=torch.float64)
    for start in range(0, fa.shape[1], step):
        a = fa[:, start : start + step].to(_work_dtype(fa))
        b = fb[:, start : start + step].to(_work_dtype(fb))
        cross += (a @ b.T).to(torch.float64)
        na += (a * a).sum(dim=1, dtype=torch.float64)
        nb += (b * b).sum(dim=1, dtype=torch.float64)
    norm = torch.sqrt(torch.outer(na.clamp(min=0.0), nb.clamp(min=0.0)))
    cka = torch.where(norm > 0.0, cross / torch.where(norm > 0.0, norm, 1.0), 0.0)
    return cka.clamp(-1.0, 1.0).numpy()
