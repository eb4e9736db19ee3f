"""Dissection of line-graph models into atomic nodes (DeRy's first step), verified by tracing and by
reconstruction, and the runnable stem / node / head pieces of a dissected model.

The torch-backed names are imported on first use, so ``core.dissect.types`` (the data contract)
stays importable without torch: the API builds search problems from stored dissections.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from core.dissect.types import Dissection, NodeKind, NodeSpec

if TYPE_CHECKING:
    from core.dissect.discover import TOLERANCE, dissect
    from core.dissect.paths import member_paths, node_module
    from core.dissect.pieces import SplitModel, split, split_at

_LAZY = {
    "TOLERANCE": "core.dissect.discover",
    "dissect": "core.dissect.discover",
    "member_paths": "core.dissect.paths",
    "node_module": "core.dissect.paths",
    "SplitModel": "core.dissect.pieces",
    "split": "core.dissect.pieces",
    "split_at": "core.dissect.pieces",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'core.dissect' has no attribute {name!r}")


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
