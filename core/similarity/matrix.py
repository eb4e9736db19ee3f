"""CKA between every point of every model of a zoo, and DeRy block similarity built from it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.errors import InvalidInput
from core.similarity.cka import cka_from_products, sketch_products

Block = tuple[int, int]  # (first, last) node indices, inclusive


@dataclass(frozen=True)
class PointSimilarity:
    """Minibatch CKA of all points of N models, stacked: model m owns rows/cols offsets[m]:offsets[m+1].

    Model m with L_m nodes has L_m + 1 points (stem output, then each node's output). The matrix
    is symmetric with a unit diagonal. Blocks between a model and itself are only used for
    pictures; the partition never compares a model with itself.
    """

    matrix: np.ndarray  # (T, T) float64
    offsets: tuple[int, ...]  # (N + 1,)

    def __post_init__(self) -> None:
        t = self.offsets[-1] if self.offsets else 0
        if len(self.offsets) < 2 or self.offsets[0] != 0 or self.matrix.shape != (t, t):
            raise InvalidInput(
                f"similarity matrix of shape {self.matrix.shape} does not match offsets {self.offsets}"
            )
        if any(b - a < 2 for a, b in zip(self.offsets, self.offsets[1:], strict=False)):
            raise InvalidInput("every model needs at least 2 points (one node)")

    @property
    def num_models(self) -> int:
        return len(self.offsets) - 1

    def num_points(self, model: int) -> int:
        return self.offsets[model + 1] - self.offsets[model]

    def pair(self, i: int, j: int) -> np.ndarray:
        """(P_i, P_j) CKA between the points of model i and of model j."""
        o = self.offsets
        return self.matrix[o[i] : o[i + 1], o[j] : o[j + 1]]

    def block_similarity(self, model_a: int, block_a: Block, model_b: int, block_b: Block) -> float:
        """DeRy S(B, B') = CKA(input of B, input of B') + CKA(output of B, output of B')."""
        c = self.pair(model_a, model_b)
        return float(c[block_a[0], block_b[0]] + c[block_a[1] + 1, block_b[1] + 1])

    def block_matrix(self, cuts: Sequence[Sequence[Block]]) -> np.ndarray:
        """S between every block of ``cuts`` (per model, its blocks) → square array, model-major order."""
        firsts, outs = [], []
        for m, blocks in enumerate(cuts):
            for first, last in blocks:
                firsts.append(self.offsets[m] + first)
                outs.append(self.offsets[m] + last + 1)
        fi, oi = np.asarray(firsts), np.asarray(outs)
        return self.matrix[np.ix_(fi, fi)] + self.matrix[np.ix_(oi, oi)]

    @classmethod
    def from_sketches(cls, sketches: Sequence[torch.Tensor]) -> PointSimilarity:
        """All pairs of all points of all models: one (chunked) product of the stacked sketches."""
        cka = cka_from_products(sketch_products(sketches))
        np.fill_diagonal(cka, 1.0)
        offsets = np.concatenate([[0], np.cumsum([s.shape[0] for s in sketches])])
        return cls(matrix=cka, offsets=tuple(int(o) for o in offsets))
