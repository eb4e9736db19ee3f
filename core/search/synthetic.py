"""A synthetic search problem at DeRy's zoo scale, for benchmarks and solver tests.

Block sizes in the range of DeRy's zoo (1–20 M params, 0.1–3 GFLOPs per block), stitch costs
about 1 % of that, 10 % of stitches unsupported, uniform scores and compatibilities, and budgets
that admit roughly 10 % of the chains.
"""

from __future__ import annotations

import random

from core.search.problem import BlockOption, SearchProblem, StitchTerm


def dery_scale_problem(seed: int = 0, models: int = 24, k: int = 4) -> SearchProblem:
    r = random.Random(seed)
    sets = [
        [
            BlockOption(
                f"m{m}.s{i}",
                r.randint(10**6, 2 * 10**7),
                r.randint(10**8, 3 * 10**9),
                r.uniform(0, 1),
                group=f"m{m}",
            )
            for m in range(models)
        ]
        for i in range(k)
    ]
    pairs = [
        [
            [
                StitchTerm(
                    r.randint(10**4, 5 * 10**5),
                    r.randint(10**6, 5 * 10**7),
                    r.uniform(0, 1),
                    r.random() < 0.9,
                )
                for _ in range(models)
            ]
            for _ in range(models)
        ]
        for _ in range(k - 1)
    ]
    return SearchProblem(
        sets=sets, pairs=pairs, max_params=30 * 10**6, max_flops=5 * 10**9, compat_weight=0.5
    )
