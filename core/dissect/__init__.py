"""Dissection of line-graph models into atomic nodes (DeRy's first step), verified by tracing and by
reconstruction, and the runnable stem / node / head pieces of a dissected model."""

from core.dissect.dissect import TOLERANCE, dissect
from core.dissect.paths import member_paths, node_module
from core.dissect.split import SplitModel, split, split_at
from core.dissect.types import Dissection, NodeKind, NodeSpec

__all__ = [
    "TOLERANCE",
    "Dissection",
    "NodeKind",
    "NodeSpec",
    "SplitModel",
    "dissect",
    "member_paths",
    "node_module",
    "split",
    "split_at",
]
