"""Reassembly search: the integer program (PuLP/CBC), its top-N solutions, the pool of diverse
budget-feasible candidates, and proxy re-ranking."""

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
from core.search.rerank import RankedSolution, rerank

__all__ = [
    "BlockCandidate",
    "BlockOption",
    "Extreme",
    "RankedSolution",
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
    "rerank",
    "solve",
]
