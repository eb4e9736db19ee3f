"""Result type shared by the training-free proxies."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProxyScore:
    """A proxy value with its health: ``finite`` is False when the score is −inf/NaN, and ``flag``
    then says why (a degenerate score is a result to store and rank last, not a crash)."""

    value: float
    finite: bool
    flag: str | None = None
    per_batch: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: non-finite numbers become ``None``."""

        def safe(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {
            "value": safe(self.value),
            "finite": self.finite,
            "flag": self.flag,
            "per_batch": [safe(v) for v in self.per_batch],
        }
