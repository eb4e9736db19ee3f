"""Arrays behind the partition pictures (the drawing itself lives with the API)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from core.partition.types import Partition
from core.similarity.matrix import PointSimilarity


def block_similarity_matrix(
    sim: PointSimilarity, part: Partition, order: Literal["set", "model"] = "set"
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """S between every pair of blocks of ``part`` and one label (model, set, first, last) per row.

    ``order="set"`` groups rows set by set (models in order inside each set), so the equivalence
    sets show as diagonal squares; ``order="model"`` groups them model by model.
    """
    labels = [(m, s, *part.cuts[m][s]) for m in range(part.num_models) for s in range(part.k)]
    if order == "set":
        labels.sort(key=lambda lab: (lab[1], lab[0]))
    ins = np.array([sim.offsets[m] + first for m, _, first, _ in labels])
    outs = np.array([sim.offsets[m] + last + 1 for m, _, _, last in labels])
    matrix = sim.matrix[np.ix_(ins, ins)] + sim.matrix[np.ix_(outs, outs)]
    return matrix, labels


def node_set_labels(part: Partition) -> list[list[int]]:
    """For every model, the set index of each of its nodes (the bar of the partition picture)."""
    out = []
    for blocks in part.cuts:
        row: list[int] = []
        for s, (first, last) in enumerate(blocks):
            row.extend([s] * (last - first + 1))
        out.append(row)
    return out
