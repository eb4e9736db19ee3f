"""Glue from dissected block candidates to a SearchProblem.

Stitch costs come from a callable (the stitching package's ``stitch_cost(src, dst)``, the same
function the builder uses), called with ``src`` = the LAST node of the upstream block (its output is
the stitch's input) and ``dst`` = the FIRST node of the downstream block (its input is the stitch's
output). Nothing here imports the stitching package, so the search stays testable on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from core.errors import InvalidInput
from core.search.problem import BlockOption, SearchProblem, StitchTerm

if TYPE_CHECKING:  # core.dissect imports torch; the search itself does not need it
    from core.dissect.types import NodeSpec


class Cost(Protocol):
    """Anything with exact ``params`` and ``flops`` (e.g. core.stitch.StitchCost)."""

    @property
    def params(self) -> int: ...

    @property
    def flops(self) -> int: ...


@dataclass(frozen=True)
class BlockCandidate:
    """A block of one model in one equivalence set, as the partition reports it."""

    id: str
    first_node: NodeSpec
    last_node: NodeSpec
    params: int
    flops: int
    score: float  # per-block score on the target (e.g. a per-model proxy/transferability)
    latency_ms: float | None = None
    model: str = ""  # the donor's model key: blocks of one model count as one donor (min_donors)


Compatibility = Callable[[BlockCandidate, BlockCandidate], float] | Mapping[tuple[str, str], float]


def build_problem(
    sets: Sequence[Sequence[BlockCandidate]],
    *,
    stitch_cost: Callable[[NodeSpec, NodeSpec], Cost],
    stitch_supported: Callable[[NodeSpec, NodeSpec], bool] | None = None,
    compatibility: Compatibility | None = None,
    entry_cost: Callable[[BlockCandidate], Cost] | None = None,
    exit_cost: Callable[[BlockCandidate], Cost] | None = None,
    max_params: int | None = None,
    max_flops: int | None = None,
    min_params: int | None = None,
    min_flops: int | None = None,
    max_latency_ms: float | None = None,
    compat_weight: float = 1.0,
    extra_params: int = 0,
    extra_flops: int = 0,
) -> SearchProblem:
    """Build and validate a SearchProblem.

    ``entry_cost`` is added to every first-set block (e.g. the stem it brings along) and
    ``exit_cost`` to every last-set block (e.g. a head sized by its output width), so that predicted
    params and FLOPs are those of the whole network. ``compatibility`` maps a (upstream, downstream)
    block pair, or their ids, to the interface CKA; missing pairs count 0. Stitches that
    ``stitch_supported`` rejects are marked infeasible and their cost is never asked for.
    """
    if not sets:
        raise InvalidInput("build_problem needs at least one equivalence set")
    last = len(sets) - 1
    options: list[list[BlockOption]] = []
    for k, candidates in enumerate(sets):
        row = []
        for c in candidates:
            params, flops = c.params, c.flops
            if k == 0 and entry_cost is not None:
                extra = entry_cost(c)
                params, flops = params + int(extra.params), flops + int(extra.flops)
            if k == last and exit_cost is not None:
                extra = exit_cost(c)
                params, flops = params + int(extra.params), flops + int(extra.flops)
            row.append(
                BlockOption(
                    id=c.id,
                    params=params,
                    flops=flops,
                    score=c.score,
                    latency_ms=c.latency_ms,
                    group=c.model,
                )
            )
        options.append(row)

    def compat(a: BlockCandidate, b: BlockCandidate) -> float:
        if compatibility is None:
            return 0.0
        if isinstance(compatibility, Mapping):
            return float(compatibility.get((a.id, b.id), 0.0))
        return float(compatibility(a, b))

    pairs: list[list[list[StitchTerm]]] = []
    for k in range(last):
        layer = []
        for a in sets[k]:
            row_terms = []
            for b in sets[k + 1]:
                if stitch_supported is not None and not stitch_supported(a.last_node, b.first_node):
                    row_terms.append(StitchTerm(feasible=False))
                    continue
                cost = stitch_cost(a.last_node, b.first_node)
                row_terms.append(
                    StitchTerm(params=int(cost.params), flops=int(cost.flops), compatibility=compat(a, b))
                )
            layer.append(row_terms)
        pairs.append(layer)
    problem = SearchProblem(
        sets=options,
        pairs=pairs,
        max_params=max_params,
        max_flops=max_flops,
        min_params=min_params,
        min_flops=min_flops,
        max_latency_ms=max_latency_ms,
        compat_weight=compat_weight,
        extra_params=extra_params,
        extra_flops=extra_flops,
    )
    problem.validate()
    return problem
