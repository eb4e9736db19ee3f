"""Cover-set partition: exact re-cut, one-node moves, bounds, known answers, incremental add."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from core.errors import Infeasible, InvalidInput
from core.partition import (
    Partition,
    add_model,
    block_similarity_matrix,
    exact_cuts,
    local_sweep,
    model_bound,
    node_set_labels,
    partition,
    sample_cuts,
)
from core.partition.recut import NEG
from core.similarity import PointSimilarity, cka_matrix, compute_sketches, probe_batches

SUBSET = Path(__file__).resolve().parents[2] / "data" / "fashion_subset.npz"


# --- a zoo with a known answer: one network, a copy with identity nodes, a copy with near-identity ---


class NearIdentity(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.05 * self.conv(x)


def _to_input(x: torch.Tensor) -> torch.Tensor:
    return ((x.float() / 255.0 - 0.286) / 0.353).unsqueeze(1)


@pytest.fixture(scope="module")
def known_zoo() -> tuple[PointSimilarity, list[list[int]], list[torch.Tensor]]:
    """Sketches of A (8 nodes), B = A + 3 identity nodes, C = A + 3 near-identity residual nodes.

    Returns the similarity, for each model the A-point each of its points corresponds to, and the
    sketches.
    """
    torch.manual_seed(0)
    stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
    spec = [
        (8, 16, 1),
        (16, 16, 2),
        (16, 24, 1),
        (24, 24, 1),
        (24, 32, 2),
        (32, 32, 1),
        (32, 48, 1),
        (48, 48, 2),
    ]
    base: list[nn.Module] = [
        nn.Sequential(nn.Conv2d(a, b, 3, stride=s, padding=1), nn.BatchNorm2d(b), nn.ReLU())
        for a, b, s in spec
    ]
    models: list[list[nn.Module]] = [base, [], []]
    maps: list[list[int]] = [list(range(9)), [0], [0]]
    for i, node in enumerate(base):
        for m, extra, after in ((1, nn.Identity(), {1, 3, 5}), (2, NearIdentity(spec[i][1]), {0, 4, 6})):
            models[m].append(node)
            maps[m].append(i + 1)
            if i in after:
                models[m].append(extra)
                maps[m].append(i + 1)
    images = torch.from_numpy(np.load(SUBSET)["images"][:512])
    batches = probe_batches(len(images), 64, seed=0)
    sketches = [
        compute_sketches(
            stem,
            nodes,
            ["map_nchw"] * (len(nodes) + 1),
            [0] * (len(nodes) + 1),
            images,
            64,
            batches=batches,
            transform=_to_input,
        )
        for nodes in models
    ]
    return PointSimilarity.from_sketches(sketches), maps, sketches


def _sizes(sim: PointSimilarity) -> list[np.ndarray]:
    return [np.ones(sim.num_points(m) - 1) for m in range(sim.num_models)]


def _check_structure(part: Partition, sim: PointSimilarity, sizes: list[np.ndarray]) -> None:
    for m, blocks in enumerate(part.cuts):
        assert len(blocks) == part.k  # one block per model per set
        assert blocks[0][0] == 0 and blocks[-1][1] == len(sizes[m]) - 1
        for (_, l0), (f1, _) in itertools.pairwise(blocks):
            assert f1 == l0 + 1  # contiguous, in order
        for first, last in blocks:
            assert first <= last
            assert sizes[m][first : last + 1].sum() < part.bounds[m]  # Eq. 5 on every block
    for s, (m, first, last) in enumerate(part.anchors):
        assert part.cuts[m][s] == (first, last)  # the anchor is a block of its set
    j = sum(
        sim.block_similarity(m, part.cuts[m][s], part.anchors[s][0], part.cuts[part.anchors[s][0]][s])
        for s in range(part.k)
        for m in range(part.num_models)
        if m != part.anchors[s][0]
    )
    assert part.objective == pytest.approx(j, abs=1e-9)


@pytest.mark.parametrize("epsilon", [0.2, 0.6])
def test_recovers_the_known_cut(known_zoo, epsilon: float) -> None:
    sim, maps, _ = known_zoo
    part = partition(sim, _sizes(sim), k=4, epsilon=epsilon, restarts=60, seed=1)
    _check_structure(part, sim, _sizes(sim))
    reference = [first for first, _ in part.cuts[0]]
    for m in (1, 2):  # every copy's cut points land on the same points of A
        assert [maps[m][first] for first, _ in part.cuts[m]] == reference, part.cuts
    assert part.objective > 0.99 * 2 * part.k * (part.num_models - 1)


def test_same_seed_same_result(known_zoo) -> None:
    sim, _, _ = known_zoo
    a = partition(sim, _sizes(sim), epsilon=0.6, restarts=30, seed=5)
    b = partition(sim, _sizes(sim), epsilon=0.6, restarts=30, seed=5)
    assert a == b


def _synthetic(num_models: int, seed: int) -> tuple[PointSimilarity, list[np.ndarray]]:
    """Depth-ordered similarities with noise: CKA ≈ exp(-|t_i - t_j| / 0.3)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(8, 20, size=num_models)
    depth = np.concatenate([np.sort(np.r_[0.0, rng.random(n - 1), 1.0]) for n in lengths])
    g = np.exp(-np.abs(depth[:, None] - depth[None, :]) / 0.3) + 0.05 * rng.normal(size=(len(depth),) * 2)
    g = np.clip((g + g.T) / 2, -1, 1)
    offsets = tuple(int(o) for o in np.r_[0, np.cumsum(lengths + 1)])
    sim = PointSimilarity(g, offsets)
    return sim, [rng.uniform(0.5, 1.5, size=n) for n in lengths]


def test_exact_recut_is_at_least_the_one_node_moves_from_the_same_starts(known_zoo) -> None:
    cases = [(known_zoo[0], _sizes(known_zoo[0]), 0.6), (*_synthetic(10, 3), 0.5)]
    for sim, sizes, epsilon in cases:
        rng = np.random.default_rng(0)
        bounds = [model_bound(s, 4, epsilon, measure="params") for s in sizes]
        starts = np.stack([sample_cuts(b.allowed, 4, 40, rng) for b in bounds], axis=1)
        dp, local = (
            partition(
                sim,
                sizes,
                k=4,
                epsilon=epsilon,
                restarts=40,
                size_measure="params",
                initial_cuts=starts,
                method=method,
            )
            for method in ("dp", "local")
        )
        _check_structure(dp, sim, sizes)
        _check_structure(local, sim, sizes)
        print(f"J exact re-cut {dp.objective:.4f} vs one-node moves {local.objective:.4f}")
        assert dp.objective >= local.objective - 1e-9


def test_more_rounds_never_lower_the_objective() -> None:
    sim, sizes = _synthetic(8, 4)
    values = [
        partition(sim, sizes, restarts=20, seed=2, max_iter=it, size_measure="params").objective
        for it in (1, 2, 4, 100)
    ]
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(values))


# --- the re-cut kernels --------------------------------------------------------------------------


def _brute_force(gain: np.ndarray, allowed: np.ndarray, end: int) -> float:
    k = gain.shape[0] + 1
    best = -np.inf
    for inner in itertools.combinations(range(1, end), k - 1):
        cuts = (0, *inner, end)
        if all(allowed[a, b] for a, b in itertools.pairwise(cuts)):
            best = max(best, sum(gain[j - 1, c] for j, c in enumerate(inner, start=1)))
    return best


def test_exact_cuts_match_brute_force() -> None:
    rng = np.random.default_rng(0)
    for trial in range(40):
        k = int(rng.integers(2, 5))
        nodes = int(rng.integers(k, 10))
        sizes = rng.uniform(0.2, 1.0, size=nodes)
        try:
            bound = model_bound(sizes, k, float(rng.uniform(0.1, 0.8)), measure="params")
        except Infeasible:
            continue
        gain = rng.normal(size=(k - 1, nodes + 1))
        cuts, value = exact_cuts(gain, np.where(bound.allowed, 0.0, NEG), np.array(nodes))
        assert value == pytest.approx(_brute_force(gain, bound.allowed, nodes)), trial
        assert all(bound.allowed[a, b] for a, b in itertools.pairwise(cuts))


def test_one_node_moves_improve_and_keep_the_bound() -> None:
    rng = np.random.default_rng(1)
    sizes = rng.uniform(0.5, 1.5, size=14)
    bound = model_bound(sizes, 4, 0.3, measure="params")
    gain = rng.normal(size=(64, 3, 15))
    starts = sample_cuts(bound.allowed, 4, 64, rng)
    moved = local_sweep(starts, gain, bound.allowed[None])
    best, _ = exact_cuts(gain, np.where(bound.allowed, 0.0, NEG)[None], np.full(64, 14))

    def total(c: np.ndarray) -> np.ndarray:
        return np.take_along_axis(gain, c[:, 1:-1, None], axis=2)[..., 0].sum(axis=1)

    assert np.all(np.abs(moved - starts) <= 1)
    assert np.all(total(moved) >= total(starts) - 1e-12)
    assert np.all(total(best) >= total(moved) - 1e-12)
    for c in moved:
        assert all(bound.allowed[a, b] for a, b in itertools.pairwise(c))


def test_random_starts_are_uniform_over_allowed_cuts() -> None:
    sizes = np.array([1.0, 2.0, 1.0, 1.0, 3.0, 1.0, 1.0])
    bound = model_bound(sizes, 3, 0.4, measure="params")
    feasible = [
        (0, *inner, 7)
        for inner in itertools.combinations(range(1, 7), 2)
        if all(bound.allowed[a, b] for a, b in itertools.pairwise((0, *inner, 7)))
    ]
    draws = sample_cuts(bound.allowed, 3, 30_000, np.random.default_rng(0))
    counts: dict[tuple[int, ...], int] = {}
    for row in draws:
        counts[tuple(int(x) for x in row)] = counts.get(tuple(int(x) for x in row), 0) + 1
    assert set(counts) == set(feasible)
    expected = len(draws) / len(feasible)
    assert all(abs(c - expected) < 0.1 * expected for c in counts.values())


# --- bounds and errors ---------------------------------------------------------------------------


def test_infeasible_names_the_model_and_node_and_what_to_change() -> None:
    sizes = np.array([1.0, 1.0, 6.0, 1.0, 1.0])  # node 2 alone is 60% of the model
    with pytest.raises(Infeasible) as err:
        model_bound(
            sizes, 4, 0.2, measure="params", name="resnet_x", node_paths=["l1", "l2", "l3.0", "l4", "l5"]
        )
    msg = str(err.value)
    assert "resnet_x" in msg and "node 2 (l3.0)" in msg and "epsilon" in msg and "lower k" in msg
    assert "size_measure='nodes'" in msg
    min_eps = err.value.details["min_epsilon"]
    assert min_eps == pytest.approx(6.0 * 4 / 10 - 1)
    model_bound(sizes, 4, min_eps + 1e-6, measure="params")  # just above: feasible
    assert err.value.details["max_k"] == 1
    model_bound(sizes, 1, 0.2, measure="params")

    with pytest.raises(Infeasible, match="has 3 nodes.*lower k to 3"):
        model_bound(np.ones(3), 4, 0.2, name="tiny")
    with pytest.raises(Infeasible, match="node 8 .*first node left over"):
        model_bound(np.ones(9), 4, 0.2, name="nine")  # blocks of < 2.7 nodes: 4 × 2 = 8 < 9
    with pytest.raises(Infeasible, match="total size 0"):
        model_bound(np.zeros(5), 2, 0.2, measure="params")


def test_partition_reports_the_infeasible_model(known_zoo) -> None:
    sim, _, _ = known_zoo
    sizes = _sizes(sim)
    sizes[2] = sizes[2].copy()
    sizes[2][4] = 30.0
    with pytest.raises(Infeasible, match="carol"):
        partition(sim, sizes, size_measure="params", model_names=["alice", "bob", "carol"], restarts=2)


def test_bad_inputs_are_refused(known_zoo) -> None:
    sim, _, _ = known_zoo
    with pytest.raises(InvalidInput, match="node sizes"):
        partition(sim, [np.ones(3)] * 3, restarts=2)
    with pytest.raises(InvalidInput, match="method"):
        partition(sim, _sizes(sim), method="greedy", restarts=2)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="at least 2 models"):
        partition(PointSimilarity(np.eye(3), (0, 3)), [np.ones(2)], k=2, restarts=2)


# --- incremental ---------------------------------------------------------------------------------


def test_add_model_cuts_against_fixed_anchors(known_zoo) -> None:
    sim, maps, sketches = known_zoo
    pair = PointSimilarity.from_sketches([sketches[0], sketches[2]])
    sizes = [np.ones(8), np.ones(11)]
    base = partition(pair, sizes, epsilon=0.6, restarts=40, seed=0)
    cross = {0: cka_matrix(sketches[1], sketches[0]), 1: cka_matrix(sketches[1], sketches[2])}
    grown = add_model(base, cross, np.ones(11), name="with identities")
    assert grown.anchors == base.anchors and grown.cuts[:2] == base.cuts
    assert grown.num_models == 3 and grown.model_names[-1] == "with identities"
    new = grown.cuts[2]
    assert [maps[1][first] for first, _ in new] == [first for first, _ in base.cuts[0]]
    assert grown.objective == pytest.approx(base.objective + sum(grown.scores[2]))
    # The cut is the best one against the anchors (brute force over all allowed cuts).
    bound = model_bound(np.ones(11), 4, 0.6)
    best = -np.inf
    for inner in itertools.combinations(range(1, 11), 3):
        c = (0, *inner, 11)
        if all(bound.allowed[a, b] for a, b in itertools.pairwise(c)):
            score = sum(
                cross[m][c[s], first] + cross[m][c[s + 1], last + 1]
                for s, (m, first, last) in enumerate(base.anchors)
            )
            best = max(best, score)
    assert sum(grown.scores[2]) == pytest.approx(best)
    with pytest.raises(InvalidInput, match="anchor model"):
        add_model(base, {}, np.ones(11))


def test_partition_round_trips_through_json(known_zoo) -> None:
    sim, _, _ = known_zoo
    part = partition(sim, _sizes(sim), epsilon=0.6, restarts=10, seed=0, model_names=["a", "b", "c"])
    back = Partition.from_dict(json.loads(json.dumps(part.to_dict())))
    assert back == part
    assert back.sets()[1] == [(m, *part.cuts[m][1]) for m in range(3)]


def test_picture_arrays(known_zoo) -> None:
    sim, _, _ = known_zoo
    part = partition(sim, _sizes(sim), epsilon=0.6, restarts=10, seed=0)
    matrix, labels = block_similarity_matrix(sim, part, order="set")
    assert matrix.shape == (12, 12) and len(labels) == 12
    assert [lab[1] for lab in labels] == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    m, s, first, last = labels[4]
    assert (first, last) == part.cuts[m][s]
    assert matrix[4, 3] == pytest.approx(sim.block_similarity(m, (first, last), labels[3][0], labels[3][2:]))
    assert np.allclose(np.diag(matrix), 2.0)
    bars = node_set_labels(part)
    assert [len(b) for b in bars] == [sim.num_points(i) - 1 for i in range(3)]
    assert all(b == sorted(b) and set(b) == {0, 1, 2, 3} for b in bars)
