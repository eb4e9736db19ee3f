"""The integer program against exhaustive enumeration, its errors and its time limit."""

from __future__ import annotations

import itertools
import os
import random
import time

import pytest

from core.errors import Infeasible, InvalidInput, ReassemblyError
from core.search import BlockOption, SearchProblem, StitchTerm, solve
from core.search.cbc import solve_with_deadline
from core.search.ip import _build
from core.search.synthetic import dery_scale_problem


def combos(problem: SearchProblem) -> list[tuple[int, ...]]:
    return list(itertools.product(*[range(len(s)) for s in problem.sets]))


def random_instance(seed: int) -> SearchProblem:
    """≤ 4 models per set, K = 3, random stitch costs/compatibilities/feasibility and budgets drawn
    from the achievable range (sometimes min_params and a latency bound too)."""
    r = random.Random(seed)
    integer_scores = seed % 3 == 0  # ties on purpose
    sets = [
        [
            BlockOption(
                id=f"m{m}.s{k}",
                params=r.randint(1_000, 50_000),
                flops=r.randint(10_000, 900_000),
                score=float(r.randint(0, 3)) if integer_scores else r.uniform(-1, 1),
                latency_ms=round(r.uniform(0.1, 5.0), 3),
            )
            for m in range(r.randint(2, 4) if seed % 5 else r.randint(1, 2))
        ]
        for k in range(3)
    ]
    pairs = [
        [
            [
                StitchTerm(
                    params=r.randint(0, 8_000),
                    flops=r.randint(0, 90_000),
                    compatibility=r.uniform(0, 1),
                    feasible=r.random() < 0.8,
                    latency_ms=round(r.uniform(0, 0.5), 3),
                )
                for _ in sets[k + 1]
            ]
            for _ in sets[k]
        ]
        for k in range(2)
    ]
    base = SearchProblem(sets=sets, pairs=pairs, compat_weight=r.choice([0.0, 0.5, 2.0]))
    valid = [c for c in combos(base) if base.is_structurally_valid(c)]
    if not valid:
        return base
    params = sorted(base.params_of(c) for c in valid)
    flops = sorted(base.flops_of(c) for c in valid)
    lat = sorted(base.latency_of(c) or 0.0 for c in valid)
    return SearchProblem(
        sets=sets,
        pairs=pairs,
        compat_weight=base.compat_weight,
        max_params=r.choice(params[len(params) // 4 :]) + r.choice([0, 0, 1, -1]),
        max_flops=r.choice(flops[len(flops) // 3 :]),
        min_params=r.choice(params[: len(params) // 2 + 1]) if r.random() < 0.3 else None,
        max_latency_ms=r.choice(lat[len(lat) // 2 :]) if r.random() < 0.3 else None,
        extra_params=r.choice([0, 1_234]) * (1 if r.random() < 0.5 else 0),
    )


@pytest.mark.parametrize("seed", range(40))
def test_ip_finds_exactly_the_feasible_set_and_the_optimum(seed: int) -> None:
    problem = random_instance(seed)
    feasible = {c for c in combos(problem) if problem.satisfies(c)}
    if not feasible:
        with pytest.raises(Infeasible):
            solve(problem, top_n=5)
        return
    solutions = solve(problem, top_n=len(feasible) + 1, time_limit_s=60)
    found = [s.choice for s in solutions]
    assert len(found) == len(set(found)), "solutions must be distinct"
    assert set(found) == feasible
    best = max(problem.objective_of(c) for c in feasible)
    assert solutions[0].objective == pytest.approx(best, abs=1e-6)
    objectives = [s.objective for s in solutions]
    assert all(a >= b - 1e-6 for a, b in zip(objectives, objectives[1:], strict=False))
    for s in solutions:
        assert s.status == "optimal"
        assert s.params == problem.params_of(s.choice)
        assert s.flops == problem.flops_of(s.choice)
        assert s.block_ids == tuple(problem.sets[k][i].id for k, i in enumerate(s.choice))


def test_infeasible_stitches_are_never_proposed() -> None:
    sets = [
        [BlockOption(f"a{i}", 10, 10, 1.0) for i in range(3)],
        [BlockOption(f"b{j}", 10, 10, 0.0) for j in range(3)],
    ]
    # Only a2 → b0 is supported although a0/a1 and b1/b2 would score higher.
    pairs = [[[StitchTerm(feasible=(i == 2 and j == 0)) for j in range(3)] for i in range(3)]]
    sets[0][0] = BlockOption("a0", 10, 10, 5.0)
    solutions = solve(SearchProblem(sets=sets, pairs=pairs, max_params=1000, max_flops=1000), top_n=10)
    assert [s.choice for s in solutions] == [(2, 0)]


def test_stitch_costs_count_toward_the_budget() -> None:
    sets = [
        [BlockOption("a", 100, 100, 0.0)],
        [BlockOption("b", 100, 100, 0.0), BlockOption("c", 100, 100, 1.0)],
    ]
    pairs = [[[StitchTerm(params=5, flops=7), StitchTerm(params=50, flops=7)]]]
    problem = SearchProblem(sets=sets, pairs=pairs, max_params=240, max_flops=10_000, extra_params=10)
    (only,) = solve(problem, top_n=5)
    assert only.block_ids == ("a", "b")  # "c" scores higher but its stitch pushes params to 260
    assert only.params == 100 + 100 + 5 + 10
    assert only.flops == 100 + 100 + 7


def test_infeasible_budget_names_the_smallest_params_and_flops() -> None:
    sets = [
        [BlockOption("a_small", 1_000, 90_000, 0.0), BlockOption("a_big", 5_000, 10_000, 0.0)],
        [BlockOption("b_small", 2_000, 80_000, 0.0), BlockOption("b_big", 6_000, 20_000, 0.0)],
    ]
    pairs = [[[StitchTerm(params=100, flops=1_000), StitchTerm(params=300, flops=3_000)] for _ in range(2)]]
    problem = SearchProblem(sets=sets, pairs=pairs, max_params=2_000, max_flops=1_000_000)
    with pytest.raises(Infeasible) as info:
        solve(problem)
    err = info.value
    assert err.details["min_params"] == 1_000 + 2_000 + 100
    assert err.details["min_flops"] == 10_000 + 20_000 + 3_000
    assert "3,100 params" in err.message and "33,000 FLOPs" in err.message
    assert err.details["min_params_blocks"] == ["a_small", "b_small"]
    # Each bound alone is reachable, but not both together: still the same minima, "jointly" explained.
    joint = SearchProblem(sets=sets, pairs=pairs, max_params=3_200, max_flops=40_000)
    with pytest.raises(Infeasible) as info:
        solve(joint)
    assert info.value.details["reason"] == "joint"
    assert info.value.details["min_params"] == 3_100 and info.value.details["min_flops"] == 33_000
    assert "3,100 params" in info.value.message


def test_no_supported_chain_is_infeasible() -> None:
    sets = [[BlockOption("a", 1, 1, 0.0)], [BlockOption("b", 1, 1, 0.0)]]
    problem = SearchProblem(sets=sets, pairs=[[[StitchTerm(feasible=False)]]], max_params=10, max_flops=10)
    with pytest.raises(Infeasible, match="no chain of supported stitches"):
        solve(problem)


def test_bad_problems_are_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="stitch layers"):
        solve(SearchProblem(sets=[[BlockOption("a", 1, 1, 0.0)], [BlockOption("b", 1, 1, 0.0)]], pairs=[]))
    with pytest.raises(InvalidInput, match="no measured latency"):
        solve(SearchProblem(sets=[[BlockOption("a", 1, 1, 0.0)]], pairs=[], max_latency_ms=3.0))
    with pytest.raises(InvalidInput, match="top_n"):
        solve(SearchProblem(sets=[[BlockOption("a", 1, 1, 0.0)]], pairs=[]), top_n=0)


def big_instance(seed: int = 0, models: int = 24, k: int = 4) -> SearchProblem:
    return dery_scale_problem(seed, models, k)


def test_time_limit_bounds_the_whole_call() -> None:
    problem = big_instance()
    start = time.monotonic()
    solutions = solve(problem, top_n=100_000, time_limit_s=1.5)  # far more than 1.5 s of work
    elapsed = time.monotonic() - start
    assert elapsed < 1.5 + 1.0, f"solve() overran its time limit: {elapsed:.2f} s"
    assert solutions, "at least the first solution fits in 1.5 s"
    assert all(problem.satisfies(s.choice) for s in solutions)


def test_expired_cbc_is_killed() -> None:
    model = _build(big_instance())
    outcome = solve_with_deadline(model.lp, time.monotonic() + 0.001)
    assert outcome.status == "killed" and outcome.values is None
    with pytest.raises(ProcessLookupError):
        os.kill(outcome.pid, 0)  # the process was killed and reaped


def test_no_solution_in_time_is_a_clear_error() -> None:
    with pytest.raises(ReassemblyError) as info:
        solve(big_instance(), time_limit_s=0.001)
    assert info.value.code == "search_timeout"
    assert "time_limit_s" in info.value.message


def test_all_64_combinations_with_ties_are_enumerated_in_order() -> None:
    """4 models, K = 3, every stitch supported, budget never binding: all 4³ combinations, each
    once, in non-increasing objective order, with many exact ties."""
    r = random.Random(7)
    sets = [[BlockOption(f"m{m}.s{k}", 10, 10, float(r.randint(0, 2))) for m in range(4)] for k in range(3)]
    pairs = [
        [[StitchTerm(1, 1, float(r.randint(0, 1))) for _ in range(4)] for _ in range(4)] for _ in range(2)
    ]
    problem = SearchProblem(sets=sets, pairs=pairs, max_params=10**6, max_flops=10**6)
    solutions = solve(problem, top_n=65, time_limit_s=120)
    assert sorted(s.choice for s in solutions) == sorted(combos(problem))
    assert [s.objective for s in solutions] == sorted((s.objective for s in solutions), reverse=True)


def test_a_budget_equal_to_a_candidate_admits_it() -> None:
    sets = [[BlockOption("a", 1_000_003, 7, 0.0), BlockOption("b", 999_999, 7, 1.0)]]
    problem = SearchProblem(sets=sets, pairs=[], max_params=1_000_003, max_flops=7)
    assert {s.block_ids for s in solve(problem, top_n=3)} == {("a",), ("b",)}
    tighter = SearchProblem(sets=sets, pairs=[], max_params=1_000_002, max_flops=7)
    assert [s.block_ids for s in solve(tighter, top_n=3)] == [("b",)]
