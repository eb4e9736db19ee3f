"""The result of a cover-set partition."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Partition:
    """K equivalence sets: block k of every model belongs to set k (one block per model per set).

    ``cuts[m][k]`` is the inclusive node range (first, last) of model m's block in set k;
    ``anchors[k]`` = (model, first, last) is set k's medoid block; ``scores[m][k]`` its block's
    similarity S to that anchor (2.0 for the anchor itself). ``objective`` J is the sum of
    ``scores`` over every block that is not its set's anchor.
    """

    k: int
    epsilon: float
    size_measure: str
    method: str
    seed: int
    restarts: int
    iterations: int  # alternation rounds of the best restart
    objective: float
    cuts: list[list[tuple[int, int]]]
    anchors: list[tuple[int, int, int]]
    scores: list[list[float]]
    block_sizes: list[list[float]]
    bounds: list[float]
    model_names: list[str] = field(default_factory=list)

    @property
    def num_models(self) -> int:
        return len(self.cuts)

    def sets(self) -> list[list[tuple[int, int, int]]]:
        """Per set: its blocks as (model, first, last), in model order."""
        return [[(m, *self.cuts[m][s]) for m in range(self.num_models)] for s in range(self.k)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "epsilon": self.epsilon,
            "size_measure": self.size_measure,
            "method": self.method,
            "seed": self.seed,
            "restarts": self.restarts,
            "iterations": self.iterations,
            "objective": self.objective,
            "cuts": [[list(b) for b in blocks] for blocks in self.cuts],
            "anchors": [list(a) for a in self.anchors],
            "scores": [list(s) for s in self.scores],
            "block_sizes": [list(s) for s in self.block_sizes],
            "bounds": list(self.bounds),
            "model_names": list(self.model_names),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Partition:
        return cls(
            k=int(d["k"]),
            epsilon=float(d["epsilon"]),
            size_measure=str(d["size_measure"]),
            method=str(d["method"]),
            seed=int(d["seed"]),
            restarts=int(d["restarts"]),
            iterations=int(d["iterations"]),
            objective=float(d["objective"]),
            cuts=[[(int(a), int(b)) for a, b in blocks] for blocks in d["cuts"]],
            anchors=[(int(m), int(a), int(b)) for m, a, b in d["anchors"]],
            scores=[[float(x) for x in s] for s in d["scores"]],
            block_sizes=[[float(x) for x in s] for s in d["block_sizes"]],
            bounds=[float(x) for x in d["bounds"]],
            model_names=[str(x) for x in d.get("model_names", [])],
        )
