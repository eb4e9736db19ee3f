"""The integer program of a partition: one block per equivalence set, exact costs of the whole net.

Pure (no torch): the API uses it to answer an infeasible budget with a 422 at once, and the worker
to run the search. Costs follow the network the builder makes: the first block brings its donor's
stem when it starts at node 0 (else a stitched stem from the image), every consecutive pair gets
the stitch of ``core.stitch.plan``, and the last block gets the new head.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from core.dissect.types import Dissection
from core.search.build import BlockCandidate, build_problem
from core.search.problem import SearchProblem
from core.stitch.plan import StitchCost, head_cost, image_node, stitch_cost, stitch_supported


@dataclass(frozen=True)
class Budget:
    """The user's constraints, built as ``Budget(**constraints)``. ``min_donors`` is not a bound of
    the integer program: ``core.search.candidate_pool`` consumes it (2 by default, because an
    assembly is a reassembly unless the user asks otherwise)."""

    max_params: int | None = None
    max_flops: int | None = None
    min_params: int | None = None
    max_latency_ms: float | None = None  # fourth, as before: positional callers keep working
    min_flops: int | None = None
    min_donors: int = 2


def block_id(model: str, first: int, last: int) -> str:
    return f"{model}:{first}-{last}"


def parse_block_id(block: str) -> tuple[str, int, int]:
    model, _, span = block.rpartition(":")
    first, _, last = span.partition("-")
    return model, int(first), int(last)


def partition_candidates(
    cuts: Mapping[str, Sequence[tuple[int, int]]],
    dissections: Mapping[str, Dissection],
    scores: Mapping[str, float] | None = None,
    latencies: Mapping[str, float] | None = None,
) -> list[list[BlockCandidate]]:
    """Per set, the block of every model (``cuts[model][k]``), scored by its model's score, with its
    measured latency (by block id) when given; its model key names its donor."""
    k = len(next(iter(cuts.values())))
    sets: list[list[BlockCandidate]] = []
    for s in range(k):
        row = []
        for model, blocks in cuts.items():
            first, last = blocks[s]
            nodes = dissections[model].nodes[first : last + 1]
            row.append(
                BlockCandidate(
                    id=block_id(model, first, last),
                    first_node=nodes[0],
                    last_node=nodes[-1],
                    params=sum(n.params for n in nodes),
                    flops=sum(n.flops for n in nodes),
                    score=float(scores.get(model, 0.0)) if scores else 0.0,
                    latency_ms=latencies.get(block_id(model, first, last)) if latencies else None,
                    model=model,
                )
            )
        sets.append(row)
    return sets


def assembly_problem(
    cuts: Mapping[str, Sequence[tuple[int, int]]],
    dissections: Mapping[str, Dissection],
    num_classes: int,
    budget: Budget,
    *,
    scores: Mapping[str, float] | None = None,
    compatibility: Callable[[BlockCandidate, BlockCandidate], float] | None = None,
    compat_weight: float = 1.0,
    latencies: Mapping[str, float] | None = None,
) -> SearchProblem:
    """The SearchProblem whose predicted params/FLOPs are those of the network the builder makes.

    ``latencies`` (ms per block id) are needed only with ``budget.max_latency_ms``; they count the
    blocks alone (stem, stitches and head are small next to them and are not timed)."""
    sets = partition_candidates(cuts, dissections, scores, latencies)

    def entry(c: BlockCandidate) -> StitchCost:
        model, first, _ = parse_block_id(c.id)
        d = dissections[model]
        if first == 0:
            return StitchCost(params=d.stem_params, flops=d.stem_flops)
        return stitch_cost(image_node(d.input_size), c.first_node)

    return build_problem(
        sets,
        stitch_cost=stitch_cost,
        stitch_supported=stitch_supported,
        compatibility=compatibility,
        entry_cost=entry,
        exit_cost=lambda c: head_cost(c.last_node, num_classes),
        max_params=budget.max_params,
        max_flops=budget.max_flops,
        min_params=budget.min_params,
        min_flops=budget.min_flops,
        max_latency_ms=budget.max_latency_ms,
        compat_weight=compat_weight,
    )
