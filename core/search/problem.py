"""The search problem: K equivalence sets of candidate blocks, the stitch between every ordered pair
of blocks in consecutive sets, and the user's budget. Pure data, validated once."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from core.errors import InvalidInput


@dataclass(frozen=True)
class BlockOption:
    """One candidate block of one set. ``params``/``flops`` include anything that travels with the
    block (e.g. its model's stem for a first-set block, the head for a last-set block)."""

    id: str
    params: int
    flops: int
    score: float
    latency_ms: float | None = None
    group: str = ""  # the donor (model key) the block comes from; counted by ``min_donors``


@dataclass(frozen=True)
class StitchTerm:
    """The stitch from a block of set k to a block of set k+1. ``compatibility`` is the interface
    CKA between the output of the upstream block and the input of the downstream one; a stitch with
    ``feasible=False`` is never proposed."""

    params: int = 0
    flops: int = 0
    compatibility: float = 0.0
    feasible: bool = True
    latency_ms: float = 0.0


@dataclass(frozen=True)
class SearchProblem:
    """``sets[k]`` are the candidates of set k; ``pairs[k][i][j]`` the stitch from ``sets[k][i]`` to
    ``sets[k+1][j]`` (K−1 layers). ``extra_*`` are fixed costs of every candidate (e.g. a shared head).
    Objective: Σ block score + ``compat_weight`` · Σ stitch compatibility."""

    sets: list[list[BlockOption]]
    pairs: list[list[list[StitchTerm]]]
    max_params: int | None = None
    max_flops: int | None = None
    min_params: int | None = None
    min_flops: int | None = None
    max_latency_ms: float | None = None
    compat_weight: float = 1.0
    extra_params: int = 0
    extra_flops: int = 0
    extra_latency_ms: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def k(self) -> int:
        return len(self.sets)

    def validate(self) -> None:
        """Raise InvalidInput naming the first thing that is wrong."""
        if not self.sets:
            raise InvalidInput("the search problem has no equivalence sets")
        for k, options in enumerate(self.sets):
            if not options:
                raise InvalidInput(f"equivalence set {k} has no candidate blocks")
            ids = [o.id for o in options]
            if len(set(ids)) != len(ids):
                raise InvalidInput(f"equivalence set {k} has duplicate block ids: {sorted(ids)}")
            for o in options:
                if o.params < 0 or o.flops < 0:
                    raise InvalidInput(f"block {o.id!r} of set {k} has negative params or FLOPs")
                if not math.isfinite(o.score):
                    raise InvalidInput(f"block {o.id!r} of set {k} has a non-finite score {o.score}")
                if self.max_latency_ms is not None and o.latency_ms is None:
                    raise InvalidInput(
                        f"max_latency_ms is set but block {o.id!r} of set {k} has no measured latency"
                    )
        if len(self.pairs) != self.k - 1:
            raise InvalidInput(f"{self.k} sets need {self.k - 1} stitch layers, got {len(self.pairs)}")
        for k, layer in enumerate(self.pairs):
            rows, cols = len(self.sets[k]), len(self.sets[k + 1])
            if len(layer) != rows or any(len(row) != cols for row in layer):
                raise InvalidInput(f"stitch layer {k} must be {rows}×{cols} (set {k} × set {k + 1})")
            for row in layer:
                for t in row:
                    if t.feasible and (t.params < 0 or t.flops < 0 or not math.isfinite(t.compatibility)):
                        raise InvalidInput(
                            f"stitch layer {k} has a negative cost or a non-finite compatibility"
                        )
        for name in ("max_params", "max_flops", "min_params", "min_flops", "max_latency_ms"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InvalidInput(f"{name} must be non-negative, got {value}")
        if not math.isfinite(self.compat_weight):
            raise InvalidInput(f"compat_weight must be finite, got {self.compat_weight}")

    # Exact evaluation of one combination (one index per set); used to report and to double-check
    # every solver answer in integer arithmetic.

    def stitches(self, choice: tuple[int, ...]) -> list[StitchTerm]:
        return [self.pairs[k][choice[k]][choice[k + 1]] for k in range(self.k - 1)]

    def is_structurally_valid(self, choice: tuple[int, ...]) -> bool:
        return all(t.feasible for t in self.stitches(choice))

    def params_of(self, choice: tuple[int, ...]) -> int:
        blocks = sum(self.sets[k][i].params for k, i in enumerate(choice))
        return self.extra_params + blocks + sum(t.params for t in self.stitches(choice))

    def flops_of(self, choice: tuple[int, ...]) -> int:
        blocks = sum(self.sets[k][i].flops for k, i in enumerate(choice))
        return self.extra_flops + blocks + sum(t.flops for t in self.stitches(choice))

    def latency_of(self, choice: tuple[int, ...]) -> float | None:
        lat = [self.sets[k][i].latency_ms for k, i in enumerate(choice)]
        if any(v is None for v in lat):
            return None
        return (
            self.extra_latency_ms
            + sum(v for v in lat if v is not None)
            + sum(t.latency_ms for t in self.stitches(choice))
        )

    def block_score_of(self, choice: tuple[int, ...]) -> float:
        return sum(self.sets[k][i].score for k, i in enumerate(choice))

    def donors_of(self, choice: tuple[int, ...]) -> int:
        """How many distinct donors (``BlockOption.group``) the combination draws blocks from."""
        return len({self.sets[k][i].group for k, i in enumerate(choice)})

    def compatibility_of(self, choice: tuple[int, ...]) -> float:
        return sum(t.compatibility for t in self.stitches(choice))

    def objective_of(self, choice: tuple[int, ...]) -> float:
        return self.block_score_of(choice) + self.compat_weight * self.compatibility_of(choice)

    def satisfies(self, choice: tuple[int, ...]) -> bool:
        """Structurally valid and within every constraint (exact, no solver tolerance)."""
        if not self.is_structurally_valid(choice):
            return False
        params = self.params_of(choice)
        if self.max_params is not None and params > self.max_params:
            return False
        if self.min_params is not None and params < self.min_params:
            return False
        flops = self.flops_of(choice)
        if self.max_flops is not None and flops > self.max_flops:
            return False
        if self.min_flops is not None and flops < self.min_flops:
            return False
        if self.max_latency_ms is not None:
            latency = self.latency_of(choice)
            if latency is None or latency > self.max_latency_ms + 1e-9:
                return False
        return True
