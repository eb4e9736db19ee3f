"""Re-rank the IP's solutions by a proxy computed on each whole candidate network."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from core.progress import Progress, no_progress
from core.search.ip import Solution


class ScoreLike(Protocol):
    """What a scorer may return besides a float (core.proxy.ProxyScore fits; not imported here so
    that core.search loads without torch)."""

    @property
    def value(self) -> float: ...

    @property
    def finite(self) -> bool: ...

    @property
    def flag(self) -> str | None: ...


@dataclass(frozen=True)
class RankedSolution:
    solution: Solution
    score: float  # the proxy on the built network (−inf/NaN when degenerate)
    finite: bool
    flag: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "solution": self.solution.to_dict(),
            "score": self.score if math.isfinite(self.score) else None,
            "finite": self.finite,
            "flag": self.flag,
        }


def rerank(
    solutions: Sequence[Solution],
    scorer: Callable[[Solution], float | ScoreLike],
    *,
    progress: Progress | None = None,
) -> list[RankedSolution]:
    """Score every solution with ``scorer`` (e.g. build the network, run NASWOT) and sort by score,
    highest first. Degenerate (non-finite) scores rank last; ties keep the IP order."""
    report = progress or no_progress
    ranked: list[RankedSolution] = []
    for n, sol in enumerate(solutions):
        raw = scorer(sol)
        if isinstance(raw, int | float):
            value = float(raw)
            finite = math.isfinite(value)
            flag = None if finite else "non_finite_score"
        else:
            value, finite, flag = float(raw.value), bool(raw.finite) and math.isfinite(raw.value), raw.flag
        ranked.append(RankedSolution(solution=sol, score=value, finite=finite, flag=flag))
        report((n + 1) / len(solutions), f"scored candidate {n + 1}/{len(solutions)}")
    return sorted(ranked, key=lambda r: (not r.finite, -r.score if r.finite else 0.0, r.solution.rank))
