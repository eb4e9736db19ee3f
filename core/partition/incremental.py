"""Adding a model to an existing partition: cut it against the fixed anchors, nothing else moves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from core.errors import InvalidInput
from core.partition.bounds import model_bound
from core.partition.recut import NEG, exact_cuts
from core.partition.types import Partition


def add_model(
    part: Partition,
    cross: Mapping[int, np.ndarray],
    sizes: Sequence[float] | np.ndarray,
    *,
    name: str | None = None,
    node_paths: Sequence[str] | None = None,
) -> Partition:
    """Return ``part`` with one more model, cut exactly (DP) to match the existing anchors.

    ``cross[m]`` is the (P_new, P_m) CKA between the new model's points and existing model m's;
    only the anchors' models are needed. The anchors, the other models' cuts and their scores are
    unchanged; the objective grows by the new model's summed block-to-anchor similarity.
    """
    label = name or f"model {part.num_models}"
    p_new = len(sizes) + 1
    for s, (m, _first, last) in enumerate(part.anchors):
        if m not in cross:
            raise InvalidInput(f"{label}: no CKA matrix against model {m}, the anchor model of set {s}")
        c = np.asarray(cross[m])
        if c.ndim != 2 or c.shape[0] != p_new or c.shape[1] <= last + 1:
            raise InvalidInput(
                f"{label}: CKA matrix against model {m} has shape {c.shape}; expected ({p_new}, P_{m}) "
                f"with the anchor's output point {last + 1} inside"
            )
    bound = model_bound(
        sizes, part.k, part.epsilon, measure=part.size_measure, name=label, node_paths=node_paths
    )
    k = part.k
    inputs = [np.asarray(cross[m], dtype=np.float64)[:, first] for m, first, _ in part.anchors]
    outputs = [np.asarray(cross[m], dtype=np.float64)[:, last + 1] for m, _, last in part.anchors]
    gain = np.stack([outputs[j - 1] + inputs[j] for j in range(1, k)]) if k > 1 else np.zeros((0, p_new))
    cuts, _ = exact_cuts(gain, np.where(bound.allowed, 0.0, NEG), np.array(p_new - 1))
    blocks = [(int(cuts[s]), int(cuts[s + 1]) - 1) for s in range(k)]
    scores = [float(inputs[s][blocks[s][0]] + outputs[s][blocks[s][1] + 1]) for s in range(k)]
    return replace(
        part,
        objective=part.objective + sum(scores),
        cuts=[*part.cuts, blocks],
        scores=[*part.scores, scores],
        block_sizes=[*part.block_sizes, [bound.size(f, last) for f, last in blocks]],
        bounds=[*part.bounds, bound.bound],
        model_names=[*part.model_names, label],
    )
