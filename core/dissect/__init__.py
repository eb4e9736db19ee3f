"""Dissection of line-graph models into atomic nodes (DeRy's first step), verified by tracing and by
reconstruction, and the runnable stem / node / head pieces of a dissected model.

The torch-backed names are imported on first use, so ``core.dissect.types`` (the data contract)
stays importable without torch: the API builds search problems from stored dissections.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.dissect.types import Dissection, NodeKind, NodeSpec
from core.lazy import lazy_getattr

if TYPE_CHECKING:
    from core.dissect.discover import TOLERANCE, dissect
    from core.dissect.paths import member_paths, node_module
    from core.dissect.pieces import SplitModel, split, split_at

__getattr__ = lazy_getattr(
    __name__,
    {
        "discover": "TOLERANCE dissect",
        "paths": "member_paths node_module",
        "pieces": "SplitModel split split_at",
    },
)

__all__ = ["TOLERANCE", "Dissection", "NodeKind", "NodeSpec", "SplitModel", "dissect"]
__all__ += ["member_paths", "node_module", "split", "split_at"]
