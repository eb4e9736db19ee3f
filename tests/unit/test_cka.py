"""Minibatch CKA from Gram sketches against a direct float64 implementation of the estimator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from core.errors import InvalidInput
from core.similarity import (
    PointSimilarity,
    cka_matrix,
    compute_sketches,
    hsic1,
    load_sketch,
    minibatch_cka,
    pool_features,
    probe_batches,
    save_sketch,
    sketch_from_bytes,
    sketch_to_bytes,
    u_centre,
)

SUBSET = Path(__file__).resolve().parents[2] / "data" / "fashion_subset.npz"


# --- a direct float64 implementation of Nguyen et al.'s estimator (Song et al.'s HSIC₁) ---------


def song_hsic1(k: np.ndarray, l_: np.ndarray) -> float:
    """Song et al. (2012) unbiased HSIC, written from the paper's formula (no U-centring)."""
    n = k.shape[0]
    k, l_ = k.copy(), l_.copy()
    np.fill_diagonal(k, 0.0)
    np.fill_diagonal(l_, 0.0)
    one = np.ones(n)
    value = (
        np.trace(k @ l_)
        + (one @ k @ one) * (one @ l_ @ one) / ((n - 1) * (n - 2))
        - 2.0 / (n - 2) * (one @ k @ l_ @ one)
    )
    return float(value / (n * (n - 3)))


def direct_minibatch_cka(xs: list[np.ndarray], ys: list[np.ndarray]) -> float:
    kl = sum(song_hsic1(x @ x.T, y @ y.T) for x, y in zip(xs, ys, strict=True))
    kk = sum(song_hsic1(x @ x.T, x @ x.T) for x in xs)
    ll = sum(song_hsic1(y @ y.T, y @ y.T) for y in ys)
    return kl / np.sqrt(kk * ll)


# --- small real networks -------------------------------------------------------------------------


def fashion_images(n: int) -> torch.Tensor:
    return torch.from_numpy(np.load(SUBSET)["images"][:n])


def to_input(x: torch.Tensor) -> torch.Tensor:
    return ((x.float() / 255.0 - 0.286) / 0.353).unsqueeze(1)


def conv_net(seed: int) -> tuple[nn.Module, list[nn.Module]]:
    torch.manual_seed(seed)
    stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
    widths = [(8, 16, 2), (16, 16, 1), (16, 32, 2), (32, 32, 1)]
    nodes: list[nn.Module] = [
        nn.Sequential(nn.Conv2d(a, b, 3, stride=s, padding=1), nn.BatchNorm2d(b), nn.ReLU())
        for a, b, s in widths
    ]
    return stem, nodes


def pooled_points(stem: nn.Module, nodes: list[nn.Module], x: torch.Tensor) -> list[np.ndarray]:
    """Pooled features at every point, computed independently of compute_sketches."""
    with torch.no_grad():
        h = stem(x)
        out = [h.mean(dim=(2, 3)).double().numpy()]
        for node in nodes:
            h = node(h)
            out.append(h.mean(dim=(2, 3)).double().numpy())
    return out


# --- the estimator -------------------------------------------------------------------------------


def test_u_centred_inner_product_is_songs_unbiased_hsic() -> None:
    rng = np.random.default_rng(0)
    for n in (4, 7, 32):
        x, y = rng.normal(size=(n, 5)), rng.normal(size=(n, 9)) + 3.0
        k, l_ = x @ x.T, y @ y.T
        ours = float(hsic1(u_centre(torch.from_numpy(k)), u_centre(torch.from_numpy(l_))))
        assert ours == pytest.approx(song_hsic1(k, l_), rel=1e-10, abs=1e-12)


def test_u_centre_rejects_tiny_batches() -> None:
    with pytest.raises(InvalidInput, match="at least 4"):
        u_centre(torch.eye(3, dtype=torch.float64))


def test_sketch_cka_equals_direct_estimator_on_a_real_network() -> None:
    stem, nodes = conv_net(0)
    images = fashion_images(512)
    batches = probe_batches(len(images), 64, seed=3)
    sketch32 = compute_sketches(
        stem,
        nodes,
        ["map_nchw"] * 5,
        [0] * 5,
        images,
        64,
        batches=batches,
        transform=to_input,
        dtype=torch.float32,
    )
    sketch16 = compute_sketches(
        stem, nodes, ["map_nchw"] * 5, [0] * 5, images, 64, batches=batches, transform=to_input
    )
    assert sketch16.dtype == torch.float16 and sketch16.shape == (5, 8, 64, 64)
    stem.eval()
    for n in nodes:
        n.eval()
    feats = [pooled_points(stem, nodes, to_input(images[torch.from_numpy(b)])) for b in batches]
    direct = np.array(
        [
            [direct_minibatch_cka([f[i] for f in feats], [f[j] for f in feats]) for j in range(5)]
            for i in range(5)
        ]
    )
    ours32 = cka_matrix(sketch32, sketch32)
    ours16 = cka_matrix(sketch16, sketch16)
    assert np.abs(ours32 - direct).max() < 1e-4
    f16_error = float(np.abs(ours16 - direct).max())
    print(f"float16 sketch: max |CKA error| = {f16_error:.2e}")
    assert f16_error < 1e-3
    assert np.abs(ours16 - direct).max() < 1e-4  # in practice float16 also meets the tighter bound
    # The features-level helper agrees as well.
    xs = [torch.from_numpy(f[1]) for f in feats]
    ys = [torch.from_numpy(f[4]) for f in feats]
    assert minibatch_cka(xs, ys) == pytest.approx(direct[1, 4], abs=1e-10)


class _Linear(nn.Module):
    """Multiply token features by a fixed matrix (commutes with token pooling)."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.w


def test_invariant_to_orthogonal_transforms_and_isotropic_scaling() -> None:
    torch.manual_seed(1)
    tokens = torch.randn(1024, 5, 48) @ torch.randn(48, 48)  # anisotropic features
    q, _ = torch.linalg.qr(torch.randn(48, 48))
    nodes = [_Linear(q), _Linear(torch.eye(48) * 37.5), _Linear(q * 1e-3)]
    sketch = compute_sketches(nn.Identity(), nodes, ["tokens"] * 4, [1] * 4, tokens, 128)
    cka = cka_matrix(sketch, sketch)
    assert np.abs(cka - 1.0).max() < 1e-3


def test_independent_features_have_near_zero_cka() -> None:
    gen = torch.Generator().manual_seed(2)
    a = torch.randn(2048, 64, 1, 1, generator=gen)
    b = torch.randn(2048, 64, 1, 1, generator=gen) ** 2  # a different, independent distribution
    sa = compute_sketches(nn.Identity(), [], ["map_nchw"], [0], a, 256)
    sb = compute_sketches(nn.Identity(), [], ["map_nchw"], [0], b, 256)
    value = float(cka_matrix(sa, sb)[0, 0])
    print(f"CKA of independent features at 2048 samples: {value:+.4f}")
    assert abs(value) < 0.05


def test_large_and_growing_magnitudes_stay_inside_float16() -> None:
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(256, 32, 1, 1, generator=gen)
    y = torch.randn(256, 32, 1, 1, generator=gen)
    x[128:] *= 1e4  # the second minibatch is 10^4 times larger: the point's scale must drop
    y *= 3e3
    kinds, prefix = ["map_nchw"], [0]
    sx16 = compute_sketches(nn.Identity(), [], kinds, prefix, x, 128)
    sy16 = compute_sketches(nn.Identity(), [], kinds, prefix, y, 128)
    assert torch.isfinite(sx16).all() and torch.isfinite(sy16).all()
    sx64 = compute_sketches(nn.Identity(), [], kinds, prefix, x, 128, dtype=torch.float64)
    sy64 = compute_sketches(nn.Identity(), [], kinds, prefix, y, 128, dtype=torch.float64)
    expected = minibatch_cka(list(x.flatten(1).split(128)), list(y.flatten(1).split(128)))
    assert cka_matrix(sx64, sy64)[0, 0] == pytest.approx(expected, abs=1e-10)
    assert cka_matrix(sx16, sy16)[0, 0] == pytest.approx(expected, abs=1e-3)


# --- pooling, batches, storage ------------------------------------------------------------------


def test_pool_features_layouts() -> None:
    x = torch.randn(3, 6, 4, 5)
    assert torch.allclose(pool_features(x, "map_nchw"), x.mean(dim=(2, 3)))
    assert torch.allclose(pool_features(x.permute(0, 2, 3, 1), "map_nhwc"), x.mean(dim=(2, 3)))
    t = torch.randn(3, 1 + 20, 6)
    assert torch.allclose(pool_features(t, "tokens", 1), t[:, 1:].mean(dim=1))
    with pytest.raises(InvalidInput, match="4 dimensions"):
        pool_features(t, "map_nchw")
    with pytest.raises(InvalidInput, match="no patch tokens"):
        pool_features(t[:, :1], "tokens", 1)
    with pytest.raises(InvalidInput, match="unknown node kind"):
        pool_features(x, "graph")


def test_probe_batches_are_fixed_by_seed() -> None:
    a = probe_batches(1000, 64, seed=7)
    assert a.shape == (15, 64)
    assert len(np.unique(a)) == a.size and a.max() < 1000
    assert np.array_equal(a, probe_batches(1000, 64, seed=7))
    assert not np.array_equal(a, probe_batches(1000, 64, seed=8))
    with pytest.raises(InvalidInput, match="at least 4"):
        probe_batches(100, 3, seed=0)
    with pytest.raises(InvalidInput, match="fewer than one batch"):
        probe_batches(10, 16, seed=0)


def test_sketch_pass_uses_eval_mode_and_restores_training_flags() -> None:
    stem, nodes = conv_net(5)
    for m in [stem, *nodes]:
        m.train()
    bn = next(m for m in nodes[0].modules() if isinstance(m, nn.BatchNorm2d))
    assert bn.running_mean is not None
    before = bn.running_mean.clone()
    compute_sketches(stem, nodes, ["map_nchw"] * 5, [0] * 5, fashion_images(64), 32, transform=to_input)
    assert torch.equal(bn.running_mean, before)  # BN statistics untouched: eval mode
    assert all(m.training for m in [stem, *nodes])
    with pytest.raises(InvalidInput, match="5 points"):
        compute_sketches(stem, nodes, ["map_nchw"] * 4, [0] * 4, fashion_images(64), 32, transform=to_input)


def test_sketch_save_load_roundtrip(tmp_path: Path) -> None:
    stem, nodes = conv_net(6)
    sketch = compute_sketches(
        stem, nodes, ["map_nchw"] * 5, [0] * 5, fashion_images(64), 16, transform=to_input
    )
    data = sketch_to_bytes(sketch, {"probe": "fashion", "seed": "3"})
    back, meta = sketch_from_bytes(data)
    assert torch.equal(back, sketch) and meta["probe"] == "fashion" and meta["seed"] == "3"
    save_sketch(sketch, tmp_path / "s.safetensors")
    assert torch.equal(load_sketch(tmp_path / "s.safetensors"), sketch)
    with pytest.raises(InvalidInput, match="safetensors"):
        sketch_from_bytes(b"not a sketch")


def test_stacked_similarity_matches_pairwise_and_block_formula() -> None:
    images = fashion_images(256)
    sketches = []
    for seed in (7, 8):
        stem, nodes = conv_net(seed)
        sketches.append(
            compute_sketches(stem, nodes, ["map_nchw"] * 5, [0] * 5, images, 32, transform=to_input)
        )
    sim = PointSimilarity.from_sketches(sketches)
    assert sim.offsets == (0, 5, 10)
    assert np.allclose(sim.pair(0, 1), cka_matrix(sketches[0], sketches[1]), atol=1e-9)
    assert np.allclose(sim.matrix, sim.matrix.T)
    c = sim.pair(0, 1)
    # Block (1..2) of model 0 against block (0..3) of model 1: inputs are points 1 and 0, outputs 3 and 4.
    assert sim.block_similarity(0, (1, 2), 1, (0, 3)) == pytest.approx(c[1, 0] + c[3, 4])
    blocks = sim.block_matrix([[(0, 1), (2, 3)], [(0, 0), (1, 3)]])
    assert blocks.shape == (4, 4)
    assert blocks[1, 3] == pytest.approx(sim.block_similarity(0, (2, 3), 1, (1, 3)))
    with pytest.raises(InvalidInput, match="same probe batches"):
        cka_matrix(sketches[0], sketches[1][:, :4])
