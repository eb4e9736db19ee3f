"""Data types of a dissection: the contract every later stage (similarity, partition, stitching,
search) codes against. Shapes never include the batch dimension.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

NodeKind = Literal["map_nchw", "map_nhwc", "tokens"]


@dataclass(frozen=True)
class NodeSpec:
    """One atomic node of a line-graph model (a residual block, a transformer block, ...)."""

    index: int
    path: str  # module path inside the model, e.g. "layer3.4" or "blocks.7"
    kind: NodeKind  # layout of the node's OUTPUT tensor
    in_kind: NodeKind  # layout of the node's INPUT tensor
    num_prefix_tokens: int  # class/distillation tokens in front of patch tokens (tokens kinds only)
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    params: int
    flops: int  # torch.utils.flop_counter FLOPs for one image (a multiply-add counts 2)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["in_shape"] = list(self.in_shape)
        d["out_shape"] = list(self.out_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NodeSpec:
        return cls(**{**d, "in_shape": tuple(d["in_shape"]), "out_shape": tuple(d["out_shape"])})


@dataclass(frozen=True)
class Dissection:
    """A verified dissection: stem → nodes[0..L-1] → head reproduces the model's output."""

    input_size: tuple[int, int, int]  # (C, H, W) the model was traced at
    nodes: tuple[NodeSpec, ...]
    stem_params: int
    stem_flops: int
    head_params: int
    head_flops: int
    total_params: int
    total_flops: int
    max_abs_error: float  # measured |stem+blocks+head − model| at verification
    extras: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_size": list(self.input_size),
            "nodes": [n.to_dict() for n in self.nodes],
            "stem_params": self.stem_params,
            "stem_flops": self.stem_flops,
            "head_params": self.head_params,
            "head_flops": self.head_flops,
            "total_params": self.total_params,
            "total_flops": self.total_flops,
            "max_abs_error": self.max_abs_error,
            "extras": self.extras,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Dissection:
        return cls(
            input_size=tuple(d["input_size"]),
            nodes=tuple(NodeSpec.from_dict(n) for n in d["nodes"]),
            stem_params=d["stem_params"],
            stem_flops=d["stem_flops"],
            head_params=d["head_params"],
            head_flops=d["head_flops"],
            total_params=d["total_params"],
            total_flops=d["total_flops"],
            max_abs_error=d["max_abs_error"],
            extras=d.get("extras", {}),
        )
