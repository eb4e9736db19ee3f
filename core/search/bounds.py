"""Exact extremes of an additive cost over every structurally valid chain (one block per set, only
supported stitches), by dynamic programming along the sets. Used to tell a user the smallest budget
any candidate needs when theirs is infeasible."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from core.search.problem import BlockOption, SearchProblem, StitchTerm


@dataclass(frozen=True)
class Extreme:
    value: float
    choice: tuple[int, ...]


def chain_extreme(
    problem: SearchProblem,
    block_cost: Callable[[BlockOption], float],
    stitch_cost: Callable[[StitchTerm], float],
    *,
    maximise: bool = False,
) -> Extreme | None:
    """The min (or max) of Σ block_cost + Σ stitch_cost over valid chains, or None if no valid chain.
    Integer costs stay integers, so the extremes of params and FLOPs are exact."""
    better = (lambda a, b: a > b) if maximise else (lambda a, b: a < b)
    # best[i] = (value, choice) of the best valid prefix ending at block i of the current set
    best: list[tuple[float, tuple[int, ...]] | None] = [
        (block_cost(o), (i,)) for i, o in enumerate(problem.sets[0])
    ]
    for k, layer in enumerate(problem.pairs):
        nxt: list[tuple[float, tuple[int, ...]] | None] = []
        for j, option in enumerate(problem.sets[k + 1]):
            cand: tuple[float, tuple[int, ...]] | None = None
            for i, prefix in enumerate(best):
                term = layer[i][j]
                if prefix is None or not term.feasible:
                    continue
                value = prefix[0] + stitch_cost(term) + block_cost(option)
                if cand is None or better(value, cand[0]):
                    cand = (value, prefix[1] + (j,))
            nxt.append(cand)
        best = nxt
    done = [b for b in best if b is not None]
    if not done:
        return None
    top = done[0]
    for b in done[1:]:
        if better(b[0], top[0]):
            top = b
    return Extreme(value=top[0], choice=top[1])


def cost_functions(cost: str) -> tuple[Callable[[BlockOption], float], Callable[[StitchTerm], float]]:
    """The block and stitch cost functions of ``params``, ``flops`` or ``latency_ms``."""
    return (lambda o: getattr(o, cost) or 0.0), (lambda t: getattr(t, cost))


def _whole(problem: SearchProblem, cost: str, *, maximise: bool = False) -> Extreme | None:
    """The chain with the least (most) ``cost`` — ``params``, ``flops`` or ``latency_ms`` — counting
    the stem and head (``problem.extra_<cost>``)."""
    e = chain_extreme(problem, *cost_functions(cost), maximise=maximise)
    return None if e is None else Extreme(e.value + getattr(problem, f"extra_{cost}"), e.choice)


def min_params(problem: SearchProblem) -> Extreme | None:
    return _whole(problem, "params")


def max_params(problem: SearchProblem) -> Extreme | None:
    return _whole(problem, "params", maximise=True)


def min_flops(problem: SearchProblem) -> Extreme | None:
    return _whole(problem, "flops")


def max_flops(problem: SearchProblem) -> Extreme | None:
    return _whole(problem, "flops", maximise=True)


def min_latency(problem: SearchProblem) -> Extreme | None:
    """None when any block lacks a measured latency."""
    if any(o.latency_ms is None for options in problem.sets for o in options):
        return None
    return _whole(problem, "latency_ms")


def prefix_suffix(
    problem: SearchProblem,
    block_cost: Callable[[BlockOption], float],
    stitch_cost: Callable[[StitchTerm], float],
    *,
    maximise: bool = False,
) -> tuple[list[list[float]], list[list[float]]]:
    """``pre[k][i]``: the min (max) cost of a valid chain from set 0 up to and including block i of set
    k; ``suf[k][i]``: the same from block i of set k to the last set. ±inf where no valid chain exists.
    A chain through the stitch (k, i, j) then costs at least pre[k][i] + stitch + suf[k+1][j]."""
    pick = max if maximise else min
    none = -math.inf if maximise else math.inf
    pre = [[block_cost(o) for o in problem.sets[0]]]
    for k, layer in enumerate(problem.pairs):
        pre.append(
            [
                pick(
                    (pre[k][i] + stitch_cost(layer[i][j]) for i in range(len(layer)) if layer[i][j].feasible),
                    default=none,
                )
                + block_cost(o)
                for j, o in enumerate(problem.sets[k + 1])
            ]
        )
    suf: list[list[float]] = [[] for _ in problem.sets]
    suf[-1] = [block_cost(o) for o in problem.sets[-1]]
    for k in range(problem.k - 2, -1, -1):
        layer = problem.pairs[k]
        suf[k] = [
            pick(
                (
                    suf[k + 1][j] + stitch_cost(layer[i][j])
                    for j in range(len(layer[i]))
                    if layer[i][j].feasible
                ),
                default=none,
            )
            + block_cost(o)
            for i, o in enumerate(problem.sets[k])
        ]
    return pre, suf
