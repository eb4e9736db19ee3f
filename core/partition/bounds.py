"""The size bound of DeRy's Eq. 5, |B| < (1+ε)|M|/K on every block of every model, and the
actionable error when a model cannot meet it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from core.dissect.types import Dissection
from core.errors import Infeasible, InvalidInput

SizeMeasure = Literal["nodes", "params", "flops"]
SIZE_MEASURES: tuple[str, ...] = ("nodes", "params", "flops")


def node_sizes(dissection: Dissection, measure: SizeMeasure | str) -> np.ndarray:
    """Per-node sizes of a dissected model in the chosen measure."""
    if measure == "nodes":
        return np.ones(len(dissection.nodes))
    if measure == "params":
        return np.array([n.params for n in dissection.nodes], dtype=np.float64)
    if measure == "flops":
        return np.array([n.flops for n in dissection.nodes], dtype=np.float64)
    raise InvalidInput(f"unknown size measure {measure!r}; use one of {', '.join(SIZE_MEASURES)}")


@dataclass(frozen=True)
class ModelBound:
    """One model's block-size bound and the table of allowed blocks between points."""

    cum: np.ndarray  # (L+1,) size of nodes [0, p) for each point p
    bound: float  # blocks must be strictly smaller
    allowed: np.ndarray  # (L+1, L+1) bool: block from point a to point b (a < b) meets the bound

    @property
    def num_nodes(self) -> int:
        return len(self.cum) - 1

    def size(self, first: int, last: int) -> float:
        return float(self.cum[last + 1] - self.cum[first])


def model_bound(
    sizes: Sequence[float] | np.ndarray,
    k: int,
    epsilon: float,
    *,
    measure: str = "nodes",
    name: str = "model",
    node_paths: Sequence[str] | None = None,
) -> ModelBound:
    """Bound of one model; raises Infeasible (naming the node that cannot fit) if no cut exists."""
    s = np.asarray(sizes, dtype=np.float64)
    if s.ndim != 1 or len(s) == 0 or np.any(s < 0) or not np.all(np.isfinite(s)):
        raise InvalidInput(f"{name}: node sizes must be a non-empty list of non-negative numbers")
    if k < 1:
        raise InvalidInput(f"k must be at least 1, got {k}")
    if epsilon < 0:
        raise InvalidInput(f"epsilon must be non-negative, got {epsilon}")
    cum = np.concatenate([[0.0], np.cumsum(s)])
    total = float(cum[-1])
    bound = (1.0 + epsilon) * total / k
    diff = cum[None, :] - cum[:, None]
    upper = np.triu(np.ones((len(cum), len(cum)), dtype=bool), 1)
    allowed = upper & (diff < bound)
    _check_feasible(s, cum, k, epsilon, bound, measure, name, node_paths)
    return ModelBound(cum=cum, bound=bound, allowed=allowed)


def min_max_block(sizes: np.ndarray, k: int) -> float:
    """Smallest possible largest block when cutting ``sizes`` into k non-empty contiguous blocks."""
    cum = np.concatenate([[0.0], np.cumsum(sizes)])
    n = len(sizes)
    best = cum[1:].copy()  # best[c-1]: one block over nodes [0, c)
    for j in range(2, k + 1):
        nxt = np.full(n, np.inf)
        for c in range(j, n + 1):
            prev = best[j - 2 : c - 1]  # ends c' = j-1 .. c-1
            seg = cum[c] - cum[j - 1 : c]
            nxt[c - 1] = float(np.min(np.maximum(prev, seg)))
        best = nxt
    return float(best[n - 1])


def _check_feasible(
    s: np.ndarray,
    cum: np.ndarray,
    k: int,
    epsilon: float,
    bound: float,
    measure: str,
    name: str,
    node_paths: Sequence[str] | None,
) -> None:
    n = len(s)
    other = "params" if measure == "nodes" else "nodes"

    def node_label(i: int) -> str:
        path = f" ({node_paths[i]})" if node_paths is not None and i < len(node_paths) else ""
        return f"node {i}{path}"

    if n < k:
        raise Infeasible(
            f"{name} has {n} nodes and cannot be cut into k={k} non-empty blocks: lower k to {n} or less",
            details={"model": name, "num_nodes": n, "k": k, "max_k": n},
        )
    if cum[-1] <= 0:
        raise Infeasible(
            f"{name} has total size 0 in measure {measure!r}, so no block can be below the bound: "
            f"use size_measure={other!r}",
            details={"model": name, "measure": measure},
        )
    worst = min_max_block(s, k)
    if worst < bound:
        return
    min_eps = worst * k / cum[-1] - 1.0
    max_k = next(
        (kk for kk in range(k - 1, 0, -1) if min_max_block(s, kk) < (1.0 + epsilon) * cum[-1] / kk), 1
    )
    big = int(np.argmax(s))
    if s[big] >= bound:
        node, why = big, f"alone has size {s[big]:.6g}"
    else:  # pack greedily: the first node that does not fit into k blocks
        blocks, start, node = 1, 0, n - 1
        for i in range(n):
            if cum[i + 1] - cum[start] >= bound:
                blocks, start = blocks + 1, i
                if blocks > k:
                    node = i
                    break
        why = f"is the first node left over after packing {k} blocks greedily"
    raise Infeasible(
        f"{name} cannot be cut into k={k} blocks of {measure} size < (1+{epsilon:g})·{cum[-1]:.6g}/{k} "
        f"= {bound:.6g}: {node_label(node)} {why}. Raise epsilon above {min_eps:.4g}, lower k to "
        f"{max_k}, or use size_measure={other!r}",
        details={
            "model": name,
            "node": node,
            "measure": measure,
            "bound": bound,
            "min_epsilon": min_eps,
            "max_k": max_k,
        },
    )
