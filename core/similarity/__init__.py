"""Functional similarity: probe features → per-point Gram sketches → minibatch CKA matrices.

See docs/notes/similarity.md for the decisions (pooling, sketch scaling, equal-size batches).
"""

from core.similarity.cka import cka_matrix, hsic1, linear_gram, minibatch_cka, u_centre
from core.similarity.matrix import Block, PointSimilarity
from core.similarity.pooling import pool_features
from core.similarity.sketch import (
    compute_sketches,
    load_sketch,
    point_layouts,
    probe_batches,
    save_sketch,
    sketch_from_bytes,
    sketch_to_bytes,
)

__all__ = [
    "Block",
    "PointSimilarity",
    "cka_matrix",
    "compute_sketches",
    "hsic1",
    "linear_gram",
    "load_sketch",
    "minibatch_cka",
    "point_layouts",
    "pool_features",
    "probe_batches",
    "save_sketch",
    "sketch_from_bytes",
    "sketch_to_bytes",
    "u_centre",
]
