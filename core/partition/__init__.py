"""Cover-set partition of a zoo into K equivalence sets (DeRy §3.2, with an exact re-cut step).

See docs/notes/similarity.md for the decisions.
"""

from core.partition.bounds import (
    SIZE_MEASURES,
    ModelBound,
    SizeMeasure,
    min_max_block,
    model_bound,
    node_sizes,
)
from core.partition.incremental import add_model
from core.partition.optimise import partition
from core.partition.recut import exact_cuts, local_sweep, sample_cuts
from core.partition.report import block_similarity_matrix, node_set_labels
from core.partition.types import Partition

__all__ = [
    "SIZE_MEASURES",
    "ModelBound",
    "Partition",
    "SizeMeasure",
    "add_model",
    "block_similarity_matrix",
    "exact_cuts",
    "local_sweep",
    "min_max_block",
    "model_bound",
    "node_set_labels",
    "node_sizes",
    "partition",
    "sample_cuts",
]
