"""The reassembly integer program (PuLP + CBC) and its top-N distinct solutions.

Variables: binary x[k,i] (block i chosen in set k), exactly one per set; for each pair of consecutive
sets a y[k,i,j] per *supported* stitch, tied to x by both marginals (Σ_j y[k,i,j] = x[k,i] and
Σ_i y[k,i,j] = x[k+1,j]). Given integral x these force y = x_i·x_j exactly (and imply y ≤ x_i,
y ≤ x_j and Σ y = 1); on the chain this marginal (local-polytope) formulation is integral without the
budget rows, the tightest linearisation there is. Unsupported stitches, and stitches that no chain
within the budgets can use (exact DP bounds), get no variable. Budgets are linear in x and y; the
objective is Σ score·x + λ·Σ compatibility·y. Each further solution adds a no-good cut on x, and CBC
is warm-started with the best feasible one-block swap of the solutions found so far.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import asdict, dataclass
from typing import Any

import pulp

from core.errors import Infeasible, InvalidInput, ReassemblyError
from core.progress import Progress, no_progress
from core.search.bounds import (
    Extreme,
    cost_functions,
    max_flops,
    max_params,
    min_flops,
    min_latency,
    min_params,
    prefix_suffix,
)
from core.search.cbc import CbcOutcome, solve_with_deadline
from core.search.problem import SearchProblem


@dataclass(frozen=True)
class Solution:
    rank: int  # 0 = first found (the optimum when status is "optimal")
    choice: tuple[int, ...]  # index of the chosen block in each set
    block_ids: tuple[str, ...]
    params: int  # predicted, exact: blocks + stitches + extras
    flops: int
    latency_ms: float | None
    block_score: float
    compatibility: float
    objective: float
    # solve(): "optimal" (proven best among the remaining) or "time_limit" (best found in time);
    # candidate_pool(): "enumerated" (drawn from the exhaustive enumeration) or "sampled" /
    # "time_limit" (a randomised integer program's optimum / incumbent)
    status: str
    wall_time_s: float  # this solution's CBC run (the enumeration's, for "enumerated")
    elapsed_s: float  # since solve() / candidate_pool() started

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["choice"] = list(self.choice)
        d["block_ids"] = list(self.block_ids)
        return d


def _fmt(n: float) -> str:
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:,.3f}"


def solution_of(
    problem: SearchProblem,
    choice: tuple[int, ...],
    *,
    rank: int,
    status: str,
    wall_time_s: float,
    elapsed_s: float,
) -> Solution:
    """The Solution of one combination, every figure computed exactly by the problem."""
    return Solution(
        rank=rank,
        choice=choice,
        block_ids=tuple(problem.sets[k][i].id for k, i in enumerate(choice)),
        params=problem.params_of(choice),
        flops=problem.flops_of(choice),
        latency_ms=problem.latency_of(choice),
        block_score=problem.block_score_of(choice),
        compatibility=problem.compatibility_of(choice),
        objective=problem.objective_of(choice),
        status=status,
        wall_time_s=wall_time_s,
        elapsed_s=elapsed_s,
    )


def found(
    problem: SearchProblem, choice: tuple[int, ...], rank: int, outcome: CbcOutcome, start: float
) -> Solution:
    """The Solution of a combination CBC found, timed from ``start`` (``time.monotonic()``)."""
    return solution_of(
        problem,
        choice,
        rank=rank,
        status=outcome.status,
        wall_time_s=outcome.wall_time_s,
        elapsed_s=time.monotonic() - start,
    )


def _extremes(problem: SearchProblem) -> tuple[Extreme | None, ...]:
    """(fewest params, fewest FLOPs, most params, most FLOPs, lowest latency) over all candidates."""
    return (
        min_params(problem),
        min_flops(problem),
        max_params(problem),
        max_flops(problem),
        min_latency(problem),
    )


def _infeasible(problem: SearchProblem, reason: str) -> Infeasible:
    """An Infeasible naming the smallest params and FLOPs any candidate needs."""
    lo_p, lo_f, hi_p, hi_f, lo_l = _extremes(problem)
    if lo_p is None or lo_f is None or hi_p is None or hi_f is None:
        return Infeasible(
            "no candidate network exists: no chain of supported stitches links one block of every set; "
            "add models to the partition or allow more stitch kinds",
            details={"reason": "no_valid_chain"},
        )

    def ids(e: Extreme) -> list[str]:
        return [problem.sets[k][i].id for k, i in enumerate(e.choice)]

    details: dict[str, Any] = {
        "reason": reason,
        "min_params": int(lo_p.value),
        "min_params_blocks": ids(lo_p),
        "min_flops": int(lo_f.value),
        "min_flops_blocks": ids(lo_f),
        "max_params": int(hi_p.value),
        "max_flops": int(hi_f.value),
        "constraints": {
            "max_params": problem.max_params,
            "max_flops": problem.max_flops,
            "min_params": problem.min_params,
            "min_flops": problem.min_flops,
            "max_latency_ms": problem.max_latency_ms,
        },
    }
    if lo_l is not None:
        details["min_latency_ms"] = lo_l.value
    asked = ", ".join(f"{k}={_fmt(v)}" for k, v in details["constraints"].items() if v is not None)
    message = (
        f"no assembly fits {asked or 'the constraints'}: the smallest candidate needs "
        f"{_fmt(lo_p.value)} params and the cheapest needs {_fmt(lo_f.value)} FLOPs"
    )
    if lo_l is not None and problem.max_latency_ms is not None:
        message += f" and {_fmt(lo_l.value)} ms"
    if reason == "joint":
        message += (
            f" (the fewest-params candidate needs {_fmt(problem.flops_of(lo_p.choice))} FLOPs, the "
            f"fewest-FLOPs one {_fmt(problem.params_of(lo_f.choice))} params); no single candidate meets "
            "every bound at once"
        )
    elif reason == "min_params":
        message += f"; the largest candidate has {_fmt(hi_p.value)} params, so lower min_params"
    elif reason == "min_flops":
        message += f"; the largest candidate needs {_fmt(hi_f.value)} FLOPs, so lower min_flops"
    message += "; raise the budget"
    return Infeasible(message, details=details)


def check_budget(problem: SearchProblem) -> None:
    """Raise Infeasible (with the exact minima) for budgets no candidate meets; cheap, no solver."""
    lo_p, lo_f, hi_p, hi_f, lo_l = _extremes(problem)
    if lo_p is None or lo_f is None or hi_p is None or hi_f is None:
        raise _infeasible(problem, "no_valid_chain")
    if problem.max_params is not None and problem.max_params < lo_p.value:
        raise _infeasible(problem, "max_params")
    if problem.max_flops is not None and problem.max_flops < lo_f.value:
        raise _infeasible(problem, "max_flops")
    if problem.min_params is not None and problem.min_params > hi_p.value:
        raise _infeasible(problem, "min_params")
    if (
        problem.max_params is not None
        and problem.min_params is not None
        and problem.min_params > problem.max_params
    ):
        raise _infeasible(problem, "min_params")
    if problem.min_flops is not None and (
        problem.min_flops > hi_f.value
        or (problem.max_flops is not None and problem.min_flops > problem.max_flops)
    ):
        raise _infeasible(problem, "min_flops")
    if problem.max_latency_ms is not None and lo_l is not None and problem.max_latency_ms < lo_l.value:
        raise _infeasible(problem, "max_latency_ms")


def search_timeout(time_limit_s: float, status: str) -> ReassemblyError:
    """The error of a search that found nothing in time (as opposed to a proven-infeasible one)."""
    return ReassemblyError(
        f"the solver found no assembly within time_limit_s={time_limit_s:g} s (CBC status: {status}); "
        "raise the time limit or shrink the candidate sets",
        code="search_timeout",
        details={"time_limit_s": time_limit_s, "status": status},
    )


@dataclass
class _Model:
    lp: pulp.LpProblem
    x: list[list[pulp.LpVariable]]
    y: dict[tuple[int, int, int], pulp.LpVariable]
    cuts: int = 0

    def start_values(self, choice: tuple[int, ...]) -> dict[str, float] | None:
        """The MIP start that encodes one combination (None if a stitch of it has no variable)."""
        values = {self.x[k][i].name: 1.0 for k, i in enumerate(choice)}
        for k in range(len(choice) - 1):
            var = self.y.get((k, choice[k], choice[k + 1]))
            if var is None:
                return None
            values[var.name] = 1.0
        return values

    def cut(self, choice: tuple[int, ...]) -> None:
        """A no-good cut: the combination can never be returned again."""
        self.cuts += 1
        self.lp += (
            pulp.lpSum(self.x[k][i] for k, i in enumerate(choice)) <= len(choice) - 1,
            f"no_good_{self.cuts}",
        )

    def choice(self, values: dict[str, float]) -> tuple[int, ...] | None:
        picked = []
        for row in self.x:
            on = [i for i, v in enumerate(row) if values.get(v.name, 0.0) > 0.5]
            if len(on) != 1:
                return None
            picked.append(on[0])
        return tuple(picked)

    def take(self, values: dict[str, float], seen: set[tuple[int, ...]]) -> tuple[int, ...]:
        """The combination CBC found, cut off so it is never returned again, and added to ``seen``."""
        choice = self.choice(values)
        if choice is None or choice in seen:
            raise ReassemblyError(
                "CBC returned a solution that is not one block per set", code="solver_failed"
            )
        self.cut(choice)
        seen.add(choice)
        return choice


def _useless_stitches(problem: SearchProblem) -> set[tuple[int, int, int]]:
    """Stitches no chain within the budgets can use: the cheapest chain through them already breaks
    a bound (exact DP reasoning CBC's presolve cannot do; it removed 25-50 % of the pair variables on
    the DeRy-sized benchmark)."""
    bounds = [
        ("params", problem.max_params, True),
        ("params", problem.min_params, False),
        ("flops", problem.max_flops, True),
        ("flops", problem.min_flops, False),
        ("latency_ms", None if problem.max_latency_ms is None else problem.max_latency_ms + 1e-9, True),
    ]
    checks = []
    for name, bound, upper in bounds:
        if bound is None:
            continue
        block, stitch = cost_functions(name)
        pre, suf = prefix_suffix(problem, block, stitch, maximise=not upper)
        checks.append((pre, suf, stitch, bound - getattr(problem, f"extra_{name}"), upper))
    useless = set()
    for k, layer in enumerate(problem.pairs):
        for i, row in enumerate(layer):
            for j, term in enumerate(row):
                for pre, suf, cost, limit, upper in checks:
                    through = pre[k][i] + cost(term) + suf[k + 1][j]
                    if (through > limit) if upper else (through < limit):
                        useless.add((k, i, j))
                        break
    return useless


def _build(problem: SearchProblem) -> _Model:
    lp = pulp.LpProblem("reassembly_search", pulp.LpMinimize)
    x = [
        [lp.add_variable(f"x_{k}_{i}", cat=pulp.LpBinary) for i in range(len(s))]
        for k, s in enumerate(problem.sets)
    ]
    y: dict[tuple[int, int, int], pulp.LpVariable] = {}
    params: list[Any] = [o.params * x[k][i] for k, s in enumerate(problem.sets) for i, o in enumerate(s)]
    flops: list[Any] = [o.flops * x[k][i] for k, s in enumerate(problem.sets) for i, o in enumerate(s)]
    latency: list[Any] = [
        (o.latency_ms or 0.0) * x[k][i] for k, s in enumerate(problem.sets) for i, o in enumerate(s)
    ]
    gain: list[Any] = [o.score * x[k][i] for k, s in enumerate(problem.sets) for i, o in enumerate(s)]
    for k, row in enumerate(x):
        lp += pulp.lpSum(row) == 1, f"one_block_set_{k}"
    useless = _useless_stitches(problem)
    for k, layer in enumerate(problem.pairs):
        out_of: list[list[pulp.LpVariable]] = [[] for _ in problem.sets[k]]
        into: list[list[pulp.LpVariable]] = [[] for _ in problem.sets[k + 1]]
        for i, row in enumerate(layer):
            for j, term in enumerate(row):
                if not term.feasible or (k, i, j) in useless:
                    continue
                # Integral anyway once x is (see the module docstring); declared binary because CBC
                # branches and probes on them and was measured 2-3x faster so.
                y[k, i, j] = var = lp.add_variable(f"y_{k}_{i}_{j}", cat=pulp.LpBinary)
                out_of[i].append(var)
                into[j].append(var)
                params.append(term.params * var)
                flops.append(term.flops * var)
                latency.append(term.latency_ms * var)
                gain.append(problem.compat_weight * term.compatibility * var)
        for i, ys in enumerate(out_of):
            lp += pulp.lpSum(ys) == x[k][i], f"stitch_out_{k}_{i}"
        for j, ys in enumerate(into):
            lp += pulp.lpSum(ys) == x[k + 1][j], f"stitch_in_{k}_{j}"
    total_params = pulp.lpSum(params) + problem.extra_params
    if problem.max_params is not None:
        lp += total_params <= problem.max_params, "max_params"
    if problem.min_params is not None:
        lp += total_params >= problem.min_params, "min_params"
    total_flops = pulp.lpSum(flops) + problem.extra_flops
    if problem.max_flops is not None:
        lp += total_flops <= problem.max_flops, "max_flops"
    if problem.min_flops is not None:
        lp += total_flops >= problem.min_flops, "min_flops"
    if problem.max_latency_ms is not None:
        lp += pulp.lpSum(latency) + problem.extra_latency_ms <= problem.max_latency_ms, "max_latency_ms"
    lp += -pulp.lpSum(gain)
    return _Model(lp, x, y)


class _NeighbourPool:
    """Feasible one-block swaps of the solutions found so far, best first: the next-best solution
    is usually one of them, and handing it to CBC as a MIP start lets it prune most of the tree."""

    def __init__(self, problem: SearchProblem):
        self.problem = problem
        self.heap: list[tuple[float, tuple[int, ...]]] = []

    def add_neighbours(self, choice: tuple[int, ...], seen: set[tuple[int, ...]]) -> None:
        for k, options in enumerate(self.problem.sets):
            for i in range(len(options)):
                other = choice[:k] + (i,) + choice[k + 1 :]
                if other not in seen and self.problem.satisfies(other):
                    heapq.heappush(self.heap, (-self.problem.objective_of(other), other))

    def best(self, seen: set[tuple[int, ...]]) -> tuple[int, ...] | None:
        while self.heap and self.heap[0][1] in seen:
            heapq.heappop(self.heap)
        return self.heap[0][1] if self.heap else None


def solve(
    problem: SearchProblem, *, top_n: int = 1, time_limit_s: float = 10.0, progress: Progress | None = None
) -> list[Solution]:
    """The ``top_n`` best distinct feasible assemblies, best first (fewer if fewer exist or time runs
    out). ``time_limit_s`` bounds the whole call's wall time; CBC is killed when it expires.

    Raises Infeasible (message and details name the smallest params/FLOPs any candidate needs) when
    nothing fits, and ReassemblyError(code="search_timeout") when no solution was found in time.
    """
    if top_n < 1:
        raise InvalidInput(f"top_n must be >= 1, got {top_n}")
    if not time_limit_s > 0:
        raise InvalidInput(f"time_limit_s must be > 0, got {time_limit_s}")
    report = progress or no_progress
    start = time.monotonic()
    deadline = start + time_limit_s
    problem.validate()
    check_budget(problem)
    model = _build(problem)
    pool = _NeighbourPool(problem)
    solutions: list[Solution] = []
    seen: set[tuple[int, ...]] = set()
    status = "not_started"
    while len(solutions) < top_n and time.monotonic() < deadline:
        guess = pool.best(seen)
        outcome = solve_with_deadline(
            model.lp, deadline, None if guess is None else model.start_values(guess)
        )
        status = outcome.status
        if outcome.values is None:
            if not solutions and status == "infeasible":
                raise _infeasible(problem, "joint")
            break  # no further solution exists, or none was found in time
        choice = model.take(outcome.values, seen)
        pool.add_neighbours(choice, seen)
        if not problem.satisfies(choice):
            continue  # within CBC's tolerance but over a bound in exact arithmetic: cut it and go on
        solutions.append(found(problem, choice, len(solutions), outcome, start))
        report(len(solutions) / top_n, f"found {len(solutions)}/{top_n} assemblies")
    if not solutions:
        raise search_timeout(time_limit_s, status)
    return solutions
