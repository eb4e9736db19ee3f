"""A registered model's stored dissection as the core type (no torch needed)."""

from __future__ import annotations

from core.dissect.types import Dissection
from core.errors import Conflict
from core.store.models import Model

NODE_FIELDS = (
    "index",
    "path",
    "kind",
    "in_kind",
    "num_prefix_tokens",
    "in_shape",
    "out_shape",
    "params",
    "flops",
)


def dissection_of(row: Model) -> Dissection:
    if row.dissection_status != "done" or row.dissection is None:
        raise Conflict(
            f"model {row.id} ({row.name}) is not dissected; POST /v1/models/{row.id}/dissect first"
        )
    nodes = [{f: getattr(n, f) for f in NODE_FIELDS} for n in row.nodes]
    return Dissection.from_dict({**row.dissection, "nodes": nodes})
