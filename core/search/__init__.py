"""Reassembly search: the integer program (PuLP/CBC), its top-N solutions, and the pool of diverse
budget-feasible candidates that a whole-network proxy ranks (core.assembly.pipeline)."""

from core.search.bounds import (
    Extreme,
    chain_extreme,
    max_params,
    min_flops,
    min_latency,
    min_params,
    prefix_suffix,
)
from core.search.build import BlockCandidate, build_problem
from core.search.ip import Solution, check_budget, solve
from core.search.pool import candidate_pool
from core.search.problem import BlockOption, SearchProblem, StitchTerm

__all__ = [
    "BlockCandidate",
    "BlockOption",
    "Extreme",
    "SearchProblem",
    "Solution",
    "StitchTerm",
    "build_problem",
    "candidate_pool",
    "check_budget",
    "chain_extreme",
    "max_params",
    "min_flops",
    "min_latency",
    "min_params",
    "prefix_suffix",
    "solve",
]
