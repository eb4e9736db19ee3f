"""The candidate pool against brute-force enumeration: distinct, within every bound, enough donors,
uniformly sampled and deterministic per seed, on all three paths (enumeration, random draws, IP)."""

from __future__ import annotations

import itertools
import random

import pytest

from core.assembly.problem import Budget
from core.errors import Infeasible, InvalidInput
from core.search import (
    BlockCandidate,
    BlockOption,
    SearchProblem,
    StitchTerm,
    build_problem,
    candidate_pool,
    check_budget,
    solve,
)

IP_ONLY = {"max_enumerated": 0, "max_draws": 0}
DRAWS_ONLY = {"max_enumerated": 0}


def combos(problem: SearchProblem) -> list[tuple[int, ...]]:
    return list(itertools.product(*[range(len(s)) for s in problem.sets]))


def qualifying(problem: SearchProblem, min_donors: int) -> set[tuple[int, ...]]:
    return {c for c in combos(problem) if problem.satisfies(c) and problem.donors_of(c) >= min_donors}


def random_instance(seed: int, models: int = 4, k: int = 3) -> SearchProblem:
    """Random costs, latencies and stitch support; every bound (min_flops and latency included)
    drawn from the achievable range so that some but not all chains fit."""
    r = random.Random(seed)
    sets = [
        [
            BlockOption(
                id=f"m{m}.s{s}",
                params=r.randint(1_000, 50_000),
                flops=r.randint(10_000, 900_000),
                score=r.uniform(0, 1),
                latency_ms=round(r.uniform(0.1, 5.0), 3),
                group=f"m{m}",
            )
            for m in range(models)
        ]
        for s in range(k)
    ]
    pairs = [
        [
            [
                StitchTerm(
                    params=r.randint(0, 8_000),
                    flops=r.randint(0, 90_000),
                    compatibility=r.uniform(0, 1),
                    feasible=r.random() < 0.85,
                    latency_ms=round(r.uniform(0, 0.5), 3),
                )
                for _ in range(models)
            ]
            for _ in range(models)
        ]
        for _ in range(k - 1)
    ]
    base = SearchProblem(sets=sets, pairs=pairs, compat_weight=0.5, extra_params=r.choice([0, 777]))
    valid = [c for c in combos(base) if base.is_structurally_valid(c)]
    params = sorted(base.params_of(c) for c in valid)
    flops = sorted(base.flops_of(c) for c in valid)
    lat = sorted(base.latency_of(c) or 0.0 for c in valid)
    return SearchProblem(
        sets=sets,
        pairs=pairs,
        compat_weight=base.compat_weight,
        extra_params=base.extra_params,
        max_params=r.choice(params[len(params) // 3 :]),
        max_flops=r.choice(flops[len(flops) // 3 :]),
        min_params=r.choice(params[: len(params) // 3]) if r.random() < 0.5 else None,
        min_flops=r.choice(flops[: len(flops) // 3]) if r.random() < 0.7 else None,
        max_latency_ms=r.choice(lat[len(lat) // 3 :]) if r.random() < 0.5 else None,
    )


def assert_valid_pool(problem: SearchProblem, pool: list, min_donors: int, statuses: set[str]) -> None:
    chains = [s.choice for s in pool]
    assert len(chains) == len(set(chains)), "chains must be distinct"
    for rank, s in enumerate(pool):
        assert problem.satisfies(s.choice), s
        assert problem.donors_of(s.choice) >= min_donors
        assert s.rank == rank and s.status in statuses
        assert (s.params, s.flops, s.latency_ms) == (
            problem.params_of(s.choice),
            problem.flops_of(s.choice),
            problem.latency_of(s.choice),
        )
        assert s.objective == problem.objective_of(s.choice)
        assert s.block_ids == tuple(problem.sets[k][i].id for k, i in enumerate(s.choice))


@pytest.mark.parametrize("seed", range(30))
def test_enumerated_pool_matches_brute_force(seed: int) -> None:
    problem = random_instance(seed)
    for min_donors in (1, 2, 3):
        feasible = qualifying(problem, min_donors)
        if not feasible:
            with pytest.raises(Infeasible):
                candidate_pool(problem, 8, min_donors=min_donors)
            continue
        pool = candidate_pool(problem, 8, min_donors=min_donors, seed=seed)
        assert_valid_pool(problem, pool, min_donors, {"enumerated"})
        assert len(pool) == min(8, len(feasible))
        whole = candidate_pool(problem, len(feasible) + 5, min_donors=min_donors)
        assert {s.choice for s in whole} == feasible


def test_min_flops_and_latency_bind_and_the_pool_is_deterministic_per_seed() -> None:
    base = random_instance(3, models=6, k=3)
    problem = SearchProblem(
        sets=base.sets,
        pairs=base.pairs,
        max_params=10**9,
        max_flops=10**9,
        min_flops=sorted(base.flops_of(c) for c in combos(base))[100],
        max_latency_ms=sorted(base.latency_of(c) or 0.0 for c in combos(base))[150],
    )
    feasible = qualifying(problem, 2)
    assert 40 < len(feasible) < len(combos(problem))
    pool = candidate_pool(problem, 20, min_donors=2, seed=1)
    assert_valid_pool(problem, pool, 2, {"enumerated"})
    assert [s.choice for s in pool] == [s.choice for s in candidate_pool(problem, 20, min_donors=2, seed=1)]
    other = candidate_pool(problem, 20, min_donors=2, seed=2)
    assert [s.choice for s in other] != [s.choice for s in pool]
    # solve() honours min_flops as well
    assert {s.choice for s in solve(problem, top_n=len(feasible) + 200, time_limit_s=60)} == qualifying(
        problem, 1
    )


def test_enumeration_samples_uniformly() -> None:
    """Every qualifying chain is drawn about equally often over seeds (a biased sampler would not)."""
    problem = random_instance(5, models=4, k=3)
    feasible = qualifying(problem, 2)
    assert len(feasible) > 10
    counts = dict.fromkeys(feasible, 0)
    for seed in range(400):
        for s in candidate_pool(problem, 5, min_donors=2, seed=seed):
            counts[s.choice] += 1
    expected = 400 * 5 / len(feasible)
    assert min(counts.values()) > 0.5 * expected and max(counts.values()) < 1.5 * expected


def test_random_draws_on_a_large_space_are_distinct_feasible_and_deterministic() -> None:
    problem = random_instance(11, models=8, k=4)
    pool = candidate_pool(problem, 50, min_donors=3, seed=4, **DRAWS_ONLY)
    assert len(pool) == 50
    assert_valid_pool(problem, pool, 3, {"sampled"})
    again = candidate_pool(problem, 50, min_donors=3, seed=4, **DRAWS_ONLY)
    assert [s.choice for s in again] == [s.choice for s in pool]
    assert [s.choice for s in candidate_pool(problem, 50, min_donors=3, seed=5, **DRAWS_ONLY)] != [
        s.choice for s in pool
    ]


@pytest.mark.parametrize("seed", [1, 7])
def test_integer_program_path_exhausts_the_feasible_set(seed: int) -> None:
    problem = random_instance(seed, models=3, k=3)
    feasible = qualifying(problem, 2)
    assert 0 < len(feasible) <= 15
    pool = candidate_pool(problem, len(feasible) + 3, min_donors=2, **IP_ONLY)
    assert_valid_pool(problem, pool, 2, {"optimal"})
    assert {s.choice for s in pool} == feasible
    few = candidate_pool(problem, 3, min_donors=2, **IP_ONLY)
    assert_valid_pool(problem, few, 2, {"optimal"})
    assert len(few) == min(3, len(feasible))


def test_integer_program_fills_what_random_draws_miss() -> None:
    problem = random_instance(5, models=4, k=3)
    feasible = qualifying(problem, 1)
    pool = candidate_pool(problem, len(feasible), max_enumerated=0, max_draws=10)
    assert_valid_pool(problem, pool, 1, {"sampled", "optimal"})
    assert {s.choice for s in pool} == feasible
    assert pool[0].status == "sampled" and pool[-1].status == "optimal"


def two_donors() -> SearchProblem:
    """Donor a is small, donor b big; stitches between them cost a lot. Within 3,000 params only
    a's own chain fits."""
    sets = [
        [BlockOption("a.0", 1_000, 10, 0.0, group="a"), BlockOption("b.0", 5_000, 10, 0.0, group="b")],
        [BlockOption("a.1", 1_000, 10, 0.0, group="a"), BlockOption("b.1", 5_000, 10, 0.0, group="b")],
    ]
    pairs = [[[StitchTerm(), StitchTerm(params=900)], [StitchTerm(params=900), StitchTerm()]]]
    return SearchProblem(sets=sets, pairs=pairs, max_params=3_000, max_flops=10**6)


@pytest.mark.parametrize("paths", [{}, DRAWS_ONLY, IP_ONLY])
def test_min_donors_that_rules_everything_out_is_infeasible(paths: dict[str, int]) -> None:
    problem = two_donors()
    (only,) = candidate_pool(problem, 10, min_donors=1, **paths)
    assert only.block_ids == ("a.0", "a.1")
    with pytest.raises(Infeasible, match="lower min_donors") as info:
        candidate_pool(problem, 10, min_donors=2, **paths)
    assert info.value.details["reason"] == "min_donors"
    if not paths:
        assert (
            "every chain within the budget uses a single donor; lower min_donors to 1" in info.value.message
        )


def test_a_budget_nothing_fits_is_infeasible_whatever_min_donors() -> None:
    sets = two_donors().sets
    pairs = two_donors().pairs
    problem = SearchProblem(sets=sets, pairs=pairs, max_params=5_950, max_flops=10**6, min_params=5_920)
    for paths in ({}, IP_ONLY):
        with pytest.raises(Infeasible) as info:
            candidate_pool(problem, 5, min_donors=2, **paths)
        assert info.value.details["reason"] == "joint"


def test_min_flops_above_the_largest_candidate_names_it() -> None:
    problem = SearchProblem(
        sets=two_donors().sets, pairs=two_donors().pairs, max_params=10**6, min_flops=10**6
    )
    for call in (check_budget, solve, candidate_pool):
        with pytest.raises(Infeasible, match="the largest candidate needs 20 FLOPs, so lower min_flops"):
            call(problem)
    both = SearchProblem(sets=two_donors().sets, pairs=two_donors().pairs, max_flops=100, min_flops=150)
    with pytest.raises(Infeasible) as info:
        check_budget(both)
    assert info.value.details["reason"] == "min_flops" and info.value.details["max_flops"] == 20


def test_bad_arguments_are_invalid_input() -> None:
    problem = two_donors()
    with pytest.raises(InvalidInput, match="a chain has only 2 blocks"):
        candidate_pool(problem, min_donors=3)
    with pytest.raises(InvalidInput, match="size"):
        candidate_pool(problem, 0)
    nameless = SearchProblem(sets=[[BlockOption("x", 1, 1, 0.0)]] * 2, pairs=[[[StitchTerm()]]])
    with pytest.raises(InvalidInput, match="group"):
        candidate_pool(nameless, min_donors=2)
    assert len(candidate_pool(nameless)) == 1  # min_donors=1 needs no groups
    one_donor = SearchProblem(
        sets=[[BlockOption("a.0", 1, 1, 0.0, group="a")], [BlockOption("a.1", 1, 1, 0.0, group="a")]],
        pairs=[[[StitchTerm()]]],
    )
    with pytest.raises(InvalidInput, match="only 1 donors"):
        candidate_pool(one_donor, min_donors=2)


def test_build_problem_carries_the_donor_and_min_flops() -> None:
    def block(model: str, k: int) -> BlockCandidate:
        return BlockCandidate(f"{model}.{k}", None, None, 10, 20, 0.0, model=model)  # type: ignore[arg-type]

    class Cost:
        params, flops = 1, 2

    problem = build_problem(
        [[block("a", 0), block("b", 0)], [block("a", 1), block("b", 1)]],
        stitch_cost=lambda src, dst: Cost(),
        max_params=100,
        min_flops=41,
    )
    assert [[o.group for o in s] for s in problem.sets] == [["a", "b"], ["a", "b"]]
    assert problem.min_flops == 41
    assert len(candidate_pool(problem, min_donors=2)) == 2


def test_budget_is_built_from_the_constraint_keys() -> None:
    keys = {
        "max_params": 5,
        "max_flops": 6,
        "min_params": 1,
        "min_flops": 2,
        "max_latency_ms": 3.0,
        "min_donors": 1,
    }
    assert Budget(**keys) == Budget(5, 6, 1, 3.0, 2, 1)
    assert Budget().min_donors == 2
