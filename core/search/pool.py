"""A large, diverse pool of distinct budget-feasible chains, for ranking by a whole-network proxy.

The top-N of the integer program's objective (Σ per-donor score + λ·Σ compatibility) are near copies
of one another and favour each donor's own chain by construction. DeRy (Eq. 8) instead draws random
candidates within the budget and ranks them by a proxy of the whole network. So:

1. a space of at most ``max_enumerated`` chains is enumerated exhaustively (numpy, exact integer
   params and FLOPs) and ``size`` of the qualifying chains are sampled uniformly without replacement;
2. a larger one is sampled uniformly by rejection: up to ``max_draws`` random chains, the qualifying
   ones kept in the order drawn (a uniform sample, as long as the budget admits a fair share);
3. whatever is still missing (a budget that admits a tiny fraction) comes from the integer program
   with a random block weighting per draw and a no-good cut on every chain already in the pool.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

import numpy as np
import pulp

from core.errors import Infeasible, InvalidInput, ReassemblyError
from core.progress import Progress, no_progress
from core.search.cbc import solve_with_deadline
from core.search.ip import (
    Solution,
    _build,
    _infeasible,
    _Model,
    check_budget,
    found,
    search_timeout,
    solution_of,
    solve,
)
from core.search.problem import SearchProblem

MAX_ENUMERATED = 4_000_000  # chains: measured 0.3 s and < 100 MB at 3.75 M
MAX_DRAWS = 2_000_000  # random chains drawn before the integer program takes over
_BATCH = 1 << 18  # chains evaluated per numpy pass

Chain = tuple[int, ...]


def candidate_pool(
    problem: SearchProblem,
    size: int = 200,
    *,
    min_donors: int = 1,
    seed: int = 0,
    time_limit_s: float = 60.0,
    max_enumerated: int = MAX_ENUMERATED,
    max_draws: int = MAX_DRAWS,
    progress: Progress | None = None,
) -> list[Solution]:
    """Up to ``size`` distinct chains (one block per set, supported stitches) within every bound of
    ``problem`` that take blocks from at least ``min_donors`` donors (``BlockOption.group``); all of
    them when fewer exist. Deterministic for a seed unless the time limit cuts the integer program
    short. Status: "enumerated" (uniform sample of the enumeration), "sampled" (uniform random
    draw), "optimal" / "time_limit" (a randomised integer program's optimum / incumbent).
    ``max_enumerated=0, max_draws=0`` forces the integer program.

    Raises Infeasible when no chain qualifies (saying so when ``min_donors`` is what rules them all
    out), InvalidInput for bad arguments, ReassemblyError(code="search_timeout") when nothing was
    found in time.
    """
    start = time.monotonic()
    problem.validate()
    _check_arguments(problem, size, min_donors, time_limit_s)
    check_budget(problem)
    report = progress or no_progress
    tables = _Tables.of(problem, min_donors)
    if math.prod(tables.shape) <= max_enumerated:
        chains = _enumerate(tables, size, seed)
        return _solutions(problem, chains, "enumerated", start)
    deadline = start + time_limit_s
    drawn = _draw(tables, size, seed, max_draws, deadline)
    pool = _solutions(problem, drawn.chains, "sampled", start)
    report(len(pool) / size, f"drew {len(pool)}/{size} candidate assemblies at random")
    if len(pool) < size:
        pool = _fill_by_ip(problem, pool, size, min_donors, seed, start, deadline, drawn.budget_ok, report)
    return pool


def _check_arguments(problem: SearchProblem, size: int, min_donors: int, time_limit_s: float) -> None:
    if size < 1:
        raise InvalidInput(f"size must be >= 1, got {size}")
    if not time_limit_s > 0:
        raise InvalidInput(f"time_limit_s must be > 0, got {time_limit_s}")
    if min_donors < 1:
        raise InvalidInput(f"min_donors must be >= 1, got {min_donors}")
    if min_donors == 1:
        return
    if min_donors > problem.k:
        raise InvalidInput(
            f"min_donors={min_donors} but a chain has only {problem.k} blocks (one per equivalence set); "
            f"lower min_donors to at most {problem.k}"
        )
    unnamed = [o.id for options in problem.sets for o in options if not o.group]
    if unnamed:
        raise InvalidInput(
            f"min_donors={min_donors} needs the donor (group) of every block; {unnamed[0]!r} has none"
        )
    groups = {o.group for options in problem.sets for o in options}
    if min_donors > len(groups):
        raise InvalidInput(
            f"min_donors={min_donors} but the candidates come from only {len(groups)} donors; "
            f"lower min_donors to at most {len(groups)}"
        )


def _too_few_donors(problem: SearchProblem, min_donors: int, most: int | None) -> Infeasible:
    """Chains fit the budget, but none takes blocks from ``min_donors`` donors."""
    if most == 1:
        message = (
            "every chain within the budget uses a single donor; lower min_donors to 1 or widen the budget"
        )
    elif most is not None:
        message = (
            f"every chain within the budget uses at most {most} donors; lower min_donors to {most} "
            "or widen the budget"
        )
    else:
        message = (
            f"no chain within the budget uses {min_donors} or more donors; "
            "lower min_donors or widen the budget"
        )
    constraints = {
        "max_params": problem.max_params,
        "max_flops": problem.max_flops,
        "min_params": problem.min_params,
        "min_flops": problem.min_flops,
        "max_latency_ms": problem.max_latency_ms,
    }
    details = {
        "reason": "min_donors",
        "min_donors": min_donors,
        "max_donors_within_budget": most,
        "constraints": constraints,
    }
    return Infeasible(message, details=details)


# Vectorised exact evaluation of many chains at once, given as one index array per set.


@dataclass(frozen=True)
class _Tables:
    """The problem as numpy arrays: per set (block costs, donor codes), per layer (stitch costs)."""

    problem: SearchProblem
    min_donors: int
    shape: tuple[int, ...]
    block_params: list[np.ndarray]
    block_flops: list[np.ndarray]
    block_latency: list[np.ndarray]
    donor: list[np.ndarray]
    stitch_ok: list[np.ndarray]
    stitch_params: list[np.ndarray]
    stitch_flops: list[np.ndarray]
    stitch_latency: list[np.ndarray]

    @classmethod
    def of(cls, problem: SearchProblem, min_donors: int) -> _Tables:
        codes: dict[str, int] = {}
        sets, pairs = problem.sets, problem.pairs
        return cls(
            problem=problem,
            min_donors=min_donors,
            shape=tuple(len(s) for s in sets),
            block_params=[np.array([o.params for o in s], dtype=np.int64) for s in sets],
            block_flops=[np.array([o.flops for o in s], dtype=np.int64) for s in sets],
            block_latency=[np.array([o.latency_ms or 0.0 for o in s], dtype=np.float64) for s in sets],
            donor=[
                np.array([codes.setdefault(o.group, len(codes)) for o in s], dtype=np.int32) for s in sets
            ],
            stitch_ok=[np.array([[t.feasible for t in row] for row in layer], dtype=bool) for layer in pairs],
            stitch_params=[
                np.array([[t.params for t in r] for r in layer], dtype=np.int64) for layer in pairs
            ],
            stitch_flops=[np.array([[t.flops for t in r] for r in layer], dtype=np.int64) for layer in pairs],
            stitch_latency=[
                np.array([[t.latency_ms for t in r] for r in layer], dtype=np.float64) for layer in pairs
            ],
        )

    def within_budget(self, idx: list[np.ndarray]) -> np.ndarray:
        """Structurally valid and within every bound; params/FLOPs in exact integers, latency summed
        in the order ``SearchProblem.latency_of`` uses, so the verdicts equal ``satisfies``."""
        p = self.problem
        ok = np.ones(idx[0].shape, dtype=bool)
        for k, table in enumerate(self.stitch_ok):
            ok &= table[idx[k], idx[k + 1]]
        params = p.extra_params + self._total(idx, self.block_params, self.stitch_params)
        flops = p.extra_flops + self._total(idx, self.block_flops, self.stitch_flops)
        for value, low, high in ((params, p.min_params, p.max_params), (flops, p.min_flops, p.max_flops)):
            if low is not None:
                ok &= value >= low
            if high is not None:
                ok &= value <= high
        if p.max_latency_ms is not None:
            latency = p.extra_latency_ms + self._total(idx, self.block_latency, self.stitch_latency)
            ok &= latency <= p.max_latency_ms + 1e-9
        return ok

    def _total(
        self, idx: list[np.ndarray], blocks: list[np.ndarray], stitches: list[np.ndarray]
    ) -> np.ndarray:
        block_sum = np.zeros(idx[0].shape, dtype=blocks[0].dtype)
        for k, table in enumerate(blocks):
            block_sum = block_sum + table[idx[k]]
        stitch_sum = np.zeros(idx[0].shape, dtype=blocks[0].dtype)
        for k, table in enumerate(stitches):
            stitch_sum = stitch_sum + table[idx[k], idx[k + 1]]
        return block_sum + stitch_sum

    def donors(self, idx: list[np.ndarray]) -> np.ndarray:
        """Distinct donors per chain: a block counts when no earlier block shares its donor."""
        codes = [table[i] for table, i in zip(self.donor, idx, strict=True)]
        count = np.zeros(idx[0].shape, dtype=np.int32)
        for k, code in enumerate(codes):
            new = np.ones(idx[0].shape, dtype=bool)
            for earlier in codes[:k]:
                new &= earlier != code
            count += new
        return count


@dataclass
class _Verdicts:
    """What a scan has seen: chains within the budget, and the most donors any of them uses."""

    budget_ok: bool = False
    most_donors: int = 0

    def qualifying(self, tables: _Tables, idx: list[np.ndarray]) -> np.ndarray:
        ok = tables.within_budget(idx)
        if not ok.any():
            return ok
        self.budget_ok = True
        if tables.min_donors == 1:
            return ok
        donors = tables.donors([i[ok] for i in idx])
        self.most_donors = max(self.most_donors, int(donors.max()))
        ok[ok] = donors >= tables.min_donors
        return ok


def _enumerate(tables: _Tables, size: int, seed: int) -> list[Chain]:
    """Every chain, in chunks; then ``size`` of the qualifying ones uniformly, in sampled order."""
    total = math.prod(tables.shape)
    verdicts = _Verdicts()
    found = [
        flat[verdicts.qualifying(tables, list(np.unravel_index(flat, tables.shape)))]
        for flat in (np.arange(a, min(a + _BATCH, total), dtype=np.int64) for a in range(0, total, _BATCH))
    ]
    feasible = np.concatenate(found)
    if feasible.size == 0:
        raise _empty(tables, verdicts, verdicts.most_donors)
    rng = np.random.default_rng(seed)
    picked = feasible[rng.choice(feasible.size, size=min(size, feasible.size), replace=False)]
    return [tuple(int(i) for i in c) for c in np.stack(np.unravel_index(picked, tables.shape), axis=1)]


@dataclass
class _Drawn:
    chains: list[Chain]
    budget_ok: bool  # a chain within the budget was seen (so the budget alone rules nothing out)


def _draw(tables: _Tables, size: int, seed: int, max_draws: int, deadline: float) -> _Drawn:
    """Uniform random chains, the distinct qualifying ones in the order first drawn."""
    rng = np.random.default_rng(seed)
    verdicts = _Verdicts()
    chains: dict[Chain, None] = {}
    drawn = 0
    while drawn < max_draws and len(chains) < size and time.monotonic() < deadline:
        n = min(_BATCH, max_draws - drawn)
        idx = [rng.integers(0, m, n) for m in tables.shape]
        ok = verdicts.qualifying(tables, idx)
        for chain in np.stack([i[ok] for i in idx], axis=1):
            chains.setdefault(tuple(int(i) for i in chain), None)
            if len(chains) == size:
                break
        drawn += n
    return _Drawn(list(chains), verdicts.budget_ok)


def _empty(tables: _Tables, verdicts: _Verdicts, most: int | None) -> Infeasible:
    if verdicts.budget_ok:
        return _too_few_donors(tables.problem, tables.min_donors, most)
    return _infeasible(tables.problem, "joint")


def _solutions(problem: SearchProblem, chains: list[Chain], status: str, start: float) -> list[Solution]:
    elapsed = time.monotonic() - start
    pool = []
    for rank, chain in enumerate(chains):
        if not problem.satisfies(chain):  # the tables are exact; this guards against a bug
            raise ReassemblyError(f"the pool admitted {chain}, which breaks the budget", code="solver_failed")
        pool.append(
            solution_of(problem, chain, rank=rank, status=status, wall_time_s=elapsed, elapsed_s=elapsed)
        )
    return pool


# The integer program with random objectives, for budgets that admit too few chains to draw.


def _require_donors(model: _Model, problem: SearchProblem, min_donors: int) -> None:
    """used[g] ≤ Σ x of donor g's blocks and Σ used ≥ min_donors: exact for binary x."""
    members: dict[str, list[pulp.LpVariable]] = {}
    for k, options in enumerate(problem.sets):
        for i, o in enumerate(options):
            members.setdefault(o.group, []).append(model.x[k][i])
    used = []
    for n, xs in enumerate(members.values()):
        var = model.lp.add_variable(f"donor_{n}", cat=pulp.LpBinary)
        model.lp += var <= pulp.lpSum(xs), f"donor_used_{n}"
        used.append(var)
    model.lp += pulp.lpSum(used) >= min_donors, "min_donors"


def _fill_by_ip(
    problem: SearchProblem,
    pool: list[Solution],
    size: int,
    min_donors: int,
    seed: int,
    start: float,
    deadline: float,
    budget_ok: bool,
    report: Progress,
) -> list[Solution]:
    """Add randomised integer-program optima, each cut off once found, until ``size`` or none is left."""
    model = _build(problem)
    if min_donors > 1:
        _require_donors(model, problem, min_donors)
    seen = {s.choice for s in pool}
    for chain in seen:
        model.cut(chain)
    rng = random.Random(seed)
    pool = list(pool)
    status = "not_started"
    while len(pool) < size and time.monotonic() < deadline:
        model.lp.setObjective(-pulp.lpSum(rng.random() * v for row in model.x for v in row))
        outcome = solve_with_deadline(model.lp, deadline)
        status = outcome.status
        if outcome.values is None:
            if not pool and status == "infeasible":
                raise _why_empty(problem, min_donors, deadline, budget_ok)
            break  # every qualifying chain is in the pool, or time ran out
        choice = model.take(outcome.values, seen)
        if not problem.satisfies(choice) or problem.donors_of(choice) < min_donors:
            continue  # within CBC's tolerance only: cut it and go on
        pool.append(found(problem, choice, len(pool), outcome, start))
        report(len(pool) / size, f"found {len(pool)}/{size} candidate assemblies")
    if not pool:
        raise search_timeout(deadline - start, status)
    return pool


def _why_empty(problem: SearchProblem, min_donors: int, deadline: float, budget_ok: bool) -> ReassemblyError:
    """Whether the budget alone or ``min_donors`` rules every chain out (solve() raises for the former)."""
    if min_donors == 1:
        return _infeasible(problem, "joint")
    if not budget_ok:
        try:
            solve(problem, time_limit_s=max(1.0, deadline - time.monotonic()))
        except ReassemblyError as error:
            return error
    return _too_few_donors(problem, min_donors, None)
