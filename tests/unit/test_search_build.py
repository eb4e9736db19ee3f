"""build_problem glue with the real stitch cost functions, and proxy re-ranking."""

from __future__ import annotations

import pytest

from core.dissect.types import NodeSpec
from core.errors import InvalidInput
from core.search import BlockCandidate, build_problem, solve
from core.stitch import head_cost, stitch_cost, stitch_supported


def node(
    index: int, in_shape: tuple[int, ...], out_shape: tuple[int, ...], kind: str = "map_nchw"
) -> NodeSpec:
    return NodeSpec(
        index=index,
        path=f"n{index}",
        kind=kind,  # type: ignore[arg-type]
        in_kind=kind,  # type: ignore[arg-type]
        num_prefix_tokens=0,
        in_shape=in_shape,
        out_shape=out_shape,
        params=0,
        flops=0,
    )


# Two CNN donors and one token donor whose 10 patch tokens form no square grid (unstitchable to maps).
CNN_A = [node(0, (16, 16, 16), (32, 8, 8)), node(1, (32, 8, 8), (64, 4, 4))]
CNN_B = [node(0, (8, 16, 16), (24, 8, 8)), node(1, (24, 8, 8), (48, 4, 4))]
ODD_TOKENS = [node(0, (10, 32), (10, 32), "tokens"), node(1, (10, 32), (10, 32), "tokens")]


def candidates() -> list[list[BlockCandidate]]:
    def block(name: str, nodes: list[NodeSpec], k: int, params: int, score: float) -> BlockCandidate:
        return BlockCandidate(
            f"{name}.{k}", nodes[k], nodes[k], params=params, flops=10 * params, score=score
        )

    return [
        [
            block("a", CNN_A, 0, 1_000, 0.5),
            block("b", CNN_B, 0, 800, 0.4),
            block("t", ODD_TOKENS, 0, 900, 0.9),
        ],
        [
            block("a", CNN_A, 1, 3_000, 0.5),
            block("b", CNN_B, 1, 2_000, 0.6),
            block("t", ODD_TOKENS, 1, 900, 0.9),
        ],
    ]


def test_build_problem_routes_the_stitch_costs_and_support() -> None:
    sets = candidates()
    compat = {("a.0", "a.1"): 1.0, ("b.0", "a.1"): 0.25}
    problem = build_problem(
        sets,
        stitch_cost=stitch_cost,
        stitch_supported=stitch_supported,
        compatibility=compat,
        exit_cost=lambda c: head_cost(c.last_node, 10),
        max_params=10**6,
        max_flops=10**8,
    )
    for i, a in enumerate(sets[0]):
        for j, b in enumerate(sets[1]):
            term = problem.pairs[0][i][j]
            assert term.feasible == stitch_supported(a.last_node, b.first_node)
            if term.feasible:
                cost = stitch_cost(a.last_node, b.first_node)
                assert (term.params, term.flops) == (cost.params, cost.flops)
                assert term.compatibility == compat.get((a.id, b.id), 0.0)
    assert not problem.pairs[0][0][2].feasible and not problem.pairs[0][2][0].feasible
    assert problem.pairs[0][2][2].feasible  # same token count: a tokens→tokens Linear
    head = head_cost(sets[1][0].last_node, 10)
    assert problem.sets[1][0].params == 3_000 + head.params
    assert problem.sets[0][0].params == 1_000  # no entry cost given


def test_solutions_only_use_supported_stitches_and_count_them() -> None:
    sets = candidates()
    problem = build_problem(
        sets, stitch_cost=stitch_cost, stitch_supported=stitch_supported, max_params=10**6
    )
    solutions = solve(problem, top_n=20)
    assert len(solutions) == 5  # 2×2 CNN chains + the token chain; CNN↔token pairs are unsupported
    for s in solutions:
        a, b = (sets[k][i] for k, i in enumerate(s.choice))
        assert stitch_supported(a.last_node, b.first_node)
        assert s.params == a.params + b.params + stitch_cost(a.last_node, b.first_node).params


def test_mapping_and_callable_compatibility_agree() -> None:
    sets = candidates()
    table = {(a.id, b.id): 0.1 * i + 0.01 * j for i, a in enumerate(sets[0]) for j, b in enumerate(sets[1])}
    by_map = build_problem(
        sets, stitch_cost=stitch_cost, stitch_supported=stitch_supported, compatibility=table
    )
    by_fn = build_problem(
        sets,
        stitch_cost=stitch_cost,
        stitch_supported=stitch_supported,
        compatibility=lambda a, b: table[a.id, b.id],
    )
    assert by_map.pairs == by_fn.pairs
    with pytest.raises(InvalidInput, match="at least one"):
        build_problem([], stitch_cost=stitch_cost)
