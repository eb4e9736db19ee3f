"""Partition on the trained zoo: the exact re-cut never does worse than DeRy's one-node moves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from core.dissect import dissect, split
from core.partition import model_bound, node_sizes, partition, sample_cuts
from core.similarity import PointSimilarity, compute_sketches, point_layouts, probe_batches
from core.zoo.data import bundled_subset_path, load_npz, prepare
from core.zoo.train import load_zoo_model, read_zoo

K, EPSILON, RESTARTS = 3, 0.5, 12


def test_exact_recut_is_at_least_the_one_node_moves_from_the_same_starts(tiny_zoo: Path) -> None:
    images, _ = load_npz(bundled_subset_path())
    batches = probe_batches(256, 32, seed=0)
    sketches, sizes, names = [], [], []
    for entry in read_zoo(tiny_zoo / "zoo.json"):
        net = load_zoo_model(entry, tiny_zoo / entry.weights_file)
        d = dissect(net, entry.input_size)
        parts = split(net, d)
        kinds, prefix = point_layouts(d)
        size, mean, std = entry.input_size, entry.mean, entry.std
        sketches.append(
            compute_sketches(
                parts.stem, parts.nodes, kinds, prefix, torch.from_numpy(images), 32,
                batches=batches, transform=lambda x, s=size, m=mean, sd=std: prepare(x, s, m, sd),
            )
        )  # fmt: skip
        sizes.append(node_sizes(d, "nodes"))
        names.append(entry.name)
    sim = PointSimilarity.from_sketches(sketches)
    rng = np.random.default_rng(7)
    starts = np.stack(
        [sample_cuts(model_bound(s, K, EPSILON).allowed, K, RESTARTS, rng) for s in sizes], axis=1
    )
    common = {"k": K, "epsilon": EPSILON, "restarts": RESTARTS, "model_names": names, "initial_cuts": starts}
    exact = partition(sim, sizes, method="dp", **common)
    local = partition(sim, sizes, method="local", **common)
    assert exact.objective >= local.objective - 1e-9, (exact.objective, local.objective)
    for m, blocks in enumerate(exact.cuts):  # one block per model per set, covering every node
        assert blocks[0][0] == 0 and blocks[-1][1] == len(sizes[m]) - 1
        assert all(a[1] + 1 == b[0] for a, b in zip(blocks, blocks[1:], strict=False))
