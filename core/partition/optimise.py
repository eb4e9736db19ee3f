"""Cover-set optimisation (DeRy §3.2): alternate anchors and re-cuts, from many random starts.

One restart: draw a random allowed cut of every model; then repeat
  (a) anchors: set k's anchor is its medoid block, the one with the largest summed similarity S
      to the other blocks of the set;
  (b) re-cut every model against the anchors — exactly by dynamic programming (``method="dp"``)
      or by one sweep of DeRy's one-node boundary moves (``method="local"``, Eq. 6);
until J (the summed similarity of every non-anchor block to its set's anchor) stops increasing.
An anchor block stays put while its own model is re-cut (a medoid does not move), so each step
can only raise J and every restart terminates. All restarts of a batch run together as arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from core.errors import InvalidInput
from core.partition.bounds import SIZE_MEASURES, ModelBound, model_bound
from core.partition.recut import NEG, exact_cuts, local_sweep, sample_cuts
from core.partition.types import Partition
from core.progress import Progress, no_progress
from core.similarity.matrix import PointSimilarity

Method = Literal["dp", "local"]
RESTART_BATCH = 50


@dataclass
class _Zoo:
    """Padded per-model arrays shared by all restarts."""

    g: np.ndarray  # (T, T) CKA of all points
    idx: np.ndarray  # (N, P) global point index (padding repeats a valid index)
    allowed: np.ndarray  # (N, P, P) bool
    penalty: np.ndarray  # (N, P, P) 0 or NEG
    end: np.ndarray  # (N,) last point of each model
    k: int

    @classmethod
    def build(cls, sim: PointSimilarity, bounds: Sequence[ModelBound], k: int) -> _Zoo:
        n = sim.num_models
        p = max(sim.num_points(m) for m in range(n))
        idx = np.zeros((n, p), dtype=np.int64)
        allowed = np.zeros((n, p, p), dtype=bool)
        for m, b in enumerate(bounds):
            pm = sim.num_points(m)
            idx[m] = sim.offsets[m] + np.minimum(np.arange(p), pm - 1)
            allowed[m, :pm, :pm] = b.allowed
        end = np.array([sim.num_points(m) - 1 for m in range(n)], dtype=np.int64)
        return cls(sim.matrix, idx, allowed, np.where(allowed, 0.0, NEG), end, k)

    def global_points(self, cuts: np.ndarray) -> np.ndarray:
        """(R, N, K+1) local cut points → global point indices."""
        n = self.idx.shape[0]
        return self.idx[np.arange(n)[None, :, None], cuts]

    def medoids(self, cuts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Anchors (R, K) model index per set and J (R,) for the given cuts."""
        pts = self.global_points(cuts).transpose(0, 2, 1)  # (R, K+1, N)
        gi, go = pts[:, :-1], pts[:, 1:]  # (R, K, N) input / output point of each block
        s = self.g[gi[..., :, None], gi[..., None, :]] + self.g[go[..., :, None], go[..., None, :]]
        n = s.shape[-1]
        s[..., np.arange(n), np.arange(n)] = 0.0
        rows = s.sum(axis=-1)  # (R, K, N)
        return rows.argmax(axis=-1), rows.max(axis=-1).sum(axis=-1)

    def gains(self, cuts: np.ndarray, anchors: np.ndarray) -> np.ndarray:
        """(R, N, K-1, P) gain of each internal cut at each point; anchors' own cuts pinned."""
        r_count, n, _ = cuts.shape
        k = self.k
        rr = np.arange(r_count)[:, None]
        kk = np.arange(k)[None, :]
        ap = cuts[rr, anchors, kk]  # (R, K) anchor input point (local)
        aq = cuts[rr, anchors, kk + 1]  # anchor output point
        agi = self.idx[anchors, ap]
        ago = self.idx[anchors, aq]
        pts = self.idx[None, :, None, :]  # (1, N, 1, P)
        gain = self.g[pts, ago[:, None, :-1, None]] + self.g[pts, agi[:, None, 1:, None]]
        # Pin the anchor blocks inside their own models: cut k = ap, cut k+1 = aq.
        pin = np.full((r_count, n, k - 1), -1, dtype=np.int64)
        for s in range(k):
            if s >= 1:
                pin[np.arange(r_count), anchors[:, s], s - 1] = ap[:, s]
            if s + 1 <= k - 1:
                pin[np.arange(r_count), anchors[:, s], s] = aq[:, s]
        p = self.idx.shape[1]
        off_pin = (pin[..., None] >= 0) & (np.arange(p)[None, None, None, :] != pin[..., None])
        return np.where(off_pin, NEG, gain)

    def recut(self, cuts: np.ndarray, anchors: np.ndarray, method: Method) -> np.ndarray:
        gain = self.gains(cuts, anchors)
        if method == "dp":
            return exact_cuts(gain, self.penalty[None], self.end[None])[0]
        return local_sweep(cuts, gain, self.allowed[None])


def _alternate(
    zoo: _Zoo, cuts: np.ndarray, method: Method, max_iter: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    anchors, j = zoo.medoids(cuts)
    iters = np.zeros(len(cuts), dtype=np.int64)
    active = np.arange(len(cuts))
    for _ in range(max_iter):
        if active.size == 0:
            break
        new_cuts = zoo.recut(cuts[active], anchors[active], method)
        new_anchors, new_j = zoo.medoids(new_cuts)
        better = new_j > j[active] + 1e-9 * np.maximum(1.0, np.abs(j[active]))
        keep = active[better]
        cuts[keep], anchors[keep], j[keep] = new_cuts[better], new_anchors[better], new_j[better]
        iters[active] += 1
        active = keep
    return cuts, anchors, j, iters


def partition(
    sim: PointSimilarity,
    sizes: Sequence[Sequence[float] | np.ndarray],
    *,
    k: int = 4,
    epsilon: float = 0.2,
    restarts: int = 200,
    seed: int = 0,
    method: Method = "dp",
    size_measure: str = "nodes",
    max_iter: int = 100,
    model_names: Sequence[str] | None = None,
    node_paths: Sequence[Sequence[str]] | None = None,
    initial_cuts: np.ndarray | None = None,
    progress: Progress | None = None,
) -> Partition:
    """Cut every model of ``sim`` into k blocks forming k equivalence sets; keep the best restart.

    ``sizes[m]`` are model m's per-node sizes in ``size_measure`` (see ``bounds.node_sizes``).
    ``initial_cuts`` (restarts, N, k+1) replaces the seeded random starts (to compare methods
    from the same starts). Raises Infeasible when a model cannot meet the size bound.
    """
    report = progress or no_progress
    n = sim.num_models
    names = list(model_names) if model_names is not None else [f"model {m}" for m in range(n)]
    if n < 2:
        raise InvalidInput(f"a partition needs at least 2 models, got {n}")
    if len(sizes) != n or len(names) != n:
        raise InvalidInput(f"got {len(sizes)} size lists and {len(names)} names for {n} models")
    if method not in ("dp", "local"):
        raise InvalidInput(f"unknown partition method {method!r}; use 'dp' or 'local'")
    if size_measure not in SIZE_MEASURES:
        raise InvalidInput(f"unknown size measure {size_measure!r}; use one of {', '.join(SIZE_MEASURES)}")
    if restarts < 1 or max_iter < 1:
        raise InvalidInput("restarts and max_iter must be at least 1")
    for m in range(n):
        if len(sizes[m]) != sim.num_points(m) - 1:
            raise InvalidInput(
                f"{names[m]}: {len(sizes[m])} node sizes given but the similarity matrix has "
                f"{sim.num_points(m)} points (one more than nodes)"
            )
    bounds = [
        model_bound(
            sizes[m],
            k,
            epsilon,
            measure=size_measure,
            name=names[m],
            node_paths=node_paths[m] if node_paths is not None else None,
        )
        for m in range(n)
    ]
    zoo = _Zoo.build(sim, bounds, k)
    if initial_cuts is None:
        rng = np.random.default_rng(seed)
        starts = np.stack([sample_cuts(bounds[m].allowed, k, restarts, rng) for m in range(n)], axis=1)
    else:
        starts = np.array(initial_cuts, dtype=np.int64)
        if starts.shape != (restarts, n, k + 1):
            raise InvalidInput(f"initial_cuts must have shape {(restarts, n, k + 1)}, got {starts.shape}")
    best: tuple[float, np.ndarray, np.ndarray, int] | None = None
    if k == 1:
        starts = starts[:1]
    for lo in range(0, len(starts), RESTART_BATCH):
        cuts, anchors, j, iters = _alternate(zoo, starts[lo : lo + RESTART_BATCH].copy(), method, max_iter)
        i = int(j.argmax())
        if best is None or j[i] > best[0]:
            best = (float(j[i]), cuts[i], anchors[i], int(iters[i]))
        done = min(lo + RESTART_BATCH, len(starts))
        report(done / len(starts), f"restarts {done}/{len(starts)}, best objective {best[0]:.4f}")
    assert best is not None
    return _result(sim, bounds, best, k, epsilon, size_measure, method, seed, restarts, names)


def _result(
    sim: PointSimilarity,
    bounds: Sequence[ModelBound],
    best: tuple[float, np.ndarray, np.ndarray, int],
    k: int,
    epsilon: float,
    size_measure: str,
    method: str,
    seed: int,
    restarts: int,
    names: list[str],
) -> Partition:
    objective, cuts, anchors, iterations = best
    blocks = [[(int(c[s]), int(c[s + 1]) - 1) for s in range(k)] for c in cuts]
    anchor_blocks = [(int(anchors[s]), *blocks[int(anchors[s])][s]) for s in range(k)]
    scores = [
        [sim.block_similarity(m, blocks[m][s], anchor_blocks[s][0], anchor_blocks[s][1:]) for s in range(k)]
        for m in range(len(blocks))
    ]
    return Partition(
        k=k,
        epsilon=epsilon,
        size_measure=size_measure,
        method=method,
        seed=seed,
        restarts=restarts,
        iterations=iterations,
        objective=objective,
        cuts=blocks,
        anchors=anchor_blocks,
        scores=scores,
        block_sizes=[[bounds[m].size(f, last) for f, last in blocks[m]] for m in range(len(blocks))],
        bounds=[b.bound for b in bounds],
        model_names=names,
    )
