"""Cutting one model (or a batch of models × restarts) against fixed anchors.

With anchors fixed, block k = (input point a, output point b) scores
S = CKA(a, anchor_k input) + CKA(b, anchor_k output). Each internal cut point c_j therefore
contributes gain_j(c_j) = CKA(c_j, anchor_{j-1} output) + CKA(c_j, anchor_j input) on its own,
and the cuts interact only through order and the size bound on the block between consecutive
cuts. ``exact_cuts`` maximises the sum by dynamic programming over cut points (O(K·P²) per
model); ``local_sweep`` is DeRy's Eq. 6: each boundary moves by at most one node per sweep.

Arrays carry arbitrary leading (batch) dimensions, written ``...``; P is the number of points
(padded to the largest model), and ``penalty[..., a, b]`` is 0 when a block from point a to point
b is allowed and ``NEG`` otherwise. A pinned cut is expressed as ``NEG`` gain everywhere else.
"""

from __future__ import annotations

import numpy as np

NEG = -1e18


def exact_cuts(gain: np.ndarray, penalty: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best cut points 0 = c_0 < c_1 < … < c_K = end.

    gain: (..., K-1, P) value of internal cut j=1..K-1 at each point; penalty: (..., P, P);
    end: (...) last point index. Returns cuts (..., K+1) int64 and the summed internal gain (...).
    """
    lead = np.broadcast_shapes(gain.shape[:-2], penalty.shape[:-2], np.shape(end))
    num_internal, p = gain.shape[-2], gain.shape[-1]
    gain = np.broadcast_to(gain, lead + gain.shape[-2:])
    penalty = np.broadcast_to(penalty, lead + (p, p))
    end_b = np.broadcast_to(np.asarray(end, dtype=np.int64), lead)
    cuts = np.zeros(lead + (num_internal + 2,), dtype=np.int64)
    cuts[..., -1] = end_b
    if num_internal == 0:
        return cuts, np.zeros(lead)
    f = penalty[..., 0, :] + gain[..., 0, :]  # value with cut 1 at each point
    back = []
    for j in range(1, num_internal):
        t = f[..., :, None] + penalty  # (..., previous cut, this cut)
        arg = t.argmax(axis=-2)
        f = np.take_along_axis(t, arg[..., None, :], axis=-2)[..., 0, :] + gain[..., j, :]
        back.append(arg)
    to_end = np.take_along_axis(penalty, np.broadcast_to(end_b[..., None, None], lead + (p, 1)), axis=-1)
    t = f + to_end[..., 0]
    last = t.argmax(axis=-1)
    value = np.take_along_axis(t, last[..., None], axis=-1)[..., 0]
    cuts[..., num_internal] = last
    for j in range(num_internal - 1, 0, -1):
        cuts[..., j] = np.take_along_axis(back[j - 1], cuts[..., j + 1, None], axis=-1)[..., 0]
    return cuts, value


def local_sweep(cuts: np.ndarray, gain: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """One pass of DeRy's one-node boundary moves (Eq. 6) over boundaries 1..K-1, in order.

    Each boundary keeps its place, moves one point forward (the next block's first node joins this
    block) or one point back, whichever scores best while both neighbouring blocks stay allowed;
    staying wins ties. cuts: (..., K+1); gain: (..., K-1, P); allowed: (..., P, P) bool.
    """
    lead = cuts.shape[:-1]
    p = gain.shape[-1]
    out = cuts.copy().reshape(-1, cuts.shape[-1])
    g = np.broadcast_to(gain, lead + gain.shape[-2:]).reshape(-1, *gain.shape[-2:])
    ok = np.broadcast_to(allowed, lead + (p, p)).reshape(-1, p, p)
    rows = np.arange(out.shape[0])
    for j in range(1, out.shape[1] - 1):
        cur = out[:, j]
        cand = np.stack([cur, cur + 1, cur - 1], axis=1)  # stay, forward, backward
        inside = (cand >= 0) & (cand < p)
        c = np.clip(cand, 0, p - 1)
        valid = inside & ok[rows[:, None], out[:, j - 1, None], c] & ok[rows[:, None], c, out[:, j + 1, None]]
        valid[:, 0] = True  # the current cut is allowed by construction
        score = np.where(valid, g[rows[:, None], j - 1, c], -np.inf)
        out[:, j] = c[rows, score.argmax(axis=1)]
    return out.reshape(cuts.shape)


def sample_cuts(allowed: np.ndarray, k: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` cuts drawn uniformly from all allowed cuts of one model into k blocks.

    allowed: (P, P) bool over the model's own P = L+1 points. Forward counting of allowed paths,
    then backward sampling. Returns (count, k+1) int64.
    """
    p = allowed.shape[0]
    a = allowed.astype(np.float64)
    ways = [a[0]]  # ways[j-1][c]: (scaled) number of ways to reach point c with j blocks
    for _ in range(1, k - 1):
        nxt = ways[-1] @ a
        ways.append(nxt / max(float(nxt.max()), 1e-300))
    cuts = np.zeros((count, k + 1), dtype=np.int64)
    cuts[:, k] = p - 1
    for j in range(k - 1, 0, -1):
        w = ways[j - 1][None, :] * a[:, cuts[:, j + 1]].T  # (count, P)
        cdf = np.cumsum(w, axis=1)
        u = rng.random(count) * cdf[:, -1]
        cuts[:, j] = np.minimum((cdf <= u[:, None]).sum(axis=1), p - 1)
    return cuts
