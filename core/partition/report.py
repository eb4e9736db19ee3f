"""Arrays behind the partition pictures (the drawing itself lives with the API) and the stored view
of a partition."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from core.dissect.types import Dissection
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


def describe_result(
    part: Partition,
    models: Sequence[tuple[str, str]],
    dissections: Sequence[Dissection],
    sim: PointSimilarity,
) -> dict[str, Any]:
    """The stored view of a partition of ``models`` ((id, name) pairs): sets with model ids, node
    paths, params and FLOPs per block, and the block similarity matrix."""

    def block(m: int, s: int) -> dict[str, Any]:
        first, last = part.cuts[m][s]
        nodes = dissections[m].nodes[first : last + 1]
        return {
            "model_id": models[m][0],
            "model_name": models[m][1],
            "first_node": first,
            "last_node": last,
            "first_path": nodes[0].path,
            "last_path": nodes[-1].path,
            "params": sum(n.params for n in nodes),
            "flops": sum(n.flops for n in nodes),
            "similarity_to_anchor": part.scores[m][s],
        }

    sets = [
        {
            "index": s,
            "anchor": block(part.anchors[s][0], s),
            "blocks": [block(m, s) for m in range(len(models))],
        }
        for s in range(part.k)
    ]
    matrix, labels = block_similarity_matrix(sim, part, order="set")
    return {
        "partition": part.to_dict(),
        "sets": sets,
        "node_counts": [len(d.nodes) for d in dissections],
        "block_similarity": matrix.round(4).tolist(),
        "block_labels": [f"set{s} {models[m][1]}" for m, s, _, _ in labels],
    }
