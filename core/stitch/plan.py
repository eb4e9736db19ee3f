"""What a stitch between two nodes looks like, decided from shapes alone.

``plan_stitch`` is the single source of truth for a stitch's structure: the builder turns a plan into
modules and ``stitch_cost`` turns the same plan into params/FLOPs, so the two cannot disagree.
Everything here is a pure function of the two endpoints' kinds and shapes (no randomness).

Canonical form: every endpoint is seen as an optional run of prefix tokens plus a spatial grid of
channel vectors (a map, or the patch tokens of a square token grid). A stitch is
``pre-resample → ONE affine map (conv or Linear, with bias) → post-resample``, the resampling steps
being parameter-free linear operators whose rows sum to one (pooling, nearest, bilinear). Such
operators commute with a 1×1 conv/Linear, so the affine map is always applied at the coarser grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from core.dissect.types import NodeKind, NodeSpec
from core.errors import InvalidInput

# A conv with kernel = stride = r sees r*r*C_in input features per output position. Past this limit
# the stitch falls back to average pooling then a 1x1 conv, so a wide map→map stitch does not grow
# to millions of parameters that a few hundred probe images cannot fit. An image patchify stem
# (C_in = 3, r = 16) stays well under it.
MAX_PATCH_FEATURES = 2048

Resample = Literal["none", "avgpool", "adaptive_avg", "nearest", "bilinear"]
Core = Literal["conv", "linear"]


@dataclass(frozen=True)
class Endpoint:
    """One side of a stitch: a tensor layout without the batch dimension."""

    kind: NodeKind
    shape: tuple[int, ...]
    num_prefix_tokens: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("map_nchw", "map_nhwc", "tokens"):
            raise InvalidInput(f"unknown tensor kind {self.kind!r}: expected map_nchw, map_nhwc or tokens")
        want = 2 if self.kind == "tokens" else 3
        if len(self.shape) != want or any(int(s) <= 0 for s in self.shape):
            raise InvalidInput(
                f"a {self.kind} endpoint needs {want} positive dims without the batch dim, got {self.shape}"
            )
        if self.kind == "tokens" and not 0 <= self.num_prefix_tokens < self.shape[0]:
            raise InvalidInput(
                f"tokens endpoint of shape {self.shape} cannot have {self.num_prefix_tokens} prefix tokens"
            )

    @property
    def channels(self) -> int:
        return int(self.shape[-1] if self.kind in ("map_nhwc", "tokens") else self.shape[0])

    @property
    def prefix(self) -> int:
        return self.num_prefix_tokens if self.kind == "tokens" else 0

    @property
    def num_patches(self) -> int:
        """Spatial positions (patch tokens, or H*W of a map)."""
        if self.kind == "tokens":
            return int(self.shape[0]) - self.num_prefix_tokens
        h, w = self.grid_or_none() or (0, 0)
        return h * w

    def grid_or_none(self) -> tuple[int, int] | None:
        """(H, W) of the spatial part; for tokens only when the patch count is a perfect square."""
        if self.kind == "map_nchw":
            return int(self.shape[1]), int(self.shape[2])
        if self.kind == "map_nhwc":
            return int(self.shape[0]), int(self.shape[1])
        n = int(self.shape[0]) - self.num_prefix_tokens
        g = math.isqrt(n)
        return (g, g) if g * g == n else None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "shape": list(self.shape), "num_prefix_tokens": self.prefix}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Endpoint:
        return cls(
            kind=d["kind"],
            shape=tuple(int(s) for s in d["shape"]),
            num_prefix_tokens=int(d["num_prefix_tokens"]),
        )

    @classmethod
    def output_of(cls, node: NodeSpec) -> Endpoint:
        return cls(node.kind, tuple(node.out_shape), node.num_prefix_tokens if node.kind == "tokens" else 0)

    @classmethod
    def input_of(cls, node: NodeSpec) -> Endpoint:
        return cls(
            node.in_kind, tuple(node.in_shape), node.num_prefix_tokens if node.in_kind == "tokens" else 0
        )

    @classmethod
    def image(cls, input_size: tuple[int, ...]) -> Endpoint:
        """An image batch (C, H, W): the source of a stitched stem."""
        return cls("map_nchw", tuple(int(s) for s in input_size), 0)


@dataclass(frozen=True)
class StitchPlan:
    """Structure of one stitch. ``src_grid``/``dst_grid`` are None only for tokens→tokens stitches
    that keep the patch count (no reshaping needed)."""

    src: Endpoint
    dst: Endpoint
    core: Core
    kernel: int  # conv kernel = stride (1 for Linear and 1x1 conv)
    c_in: int
    c_out: int
    src_grid: tuple[int, int] | None
    core_in_grid: tuple[int, int] | None  # grid the affine map reads (after pre-resample)
    core_out_grid: tuple[int, int] | None  # grid the affine map writes (before post-resample)
    dst_grid: tuple[int, int] | None
    pre: Resample
    post: Resample
    prefix_from_src: int  # dst prefix tokens computed by the affine map from src prefix tokens
    prefix_learned: int  # dst prefix tokens that are learned constants

    @property
    def core_positions(self) -> int:
        """Rows the affine map processes for one image (prefix tokens included)."""
        if self.core_out_grid is None:
            return self.src.num_patches + self.prefix_from_src
        return self.core_out_grid[0] * self.core_out_grid[1] + self.prefix_from_src

    @property
    def transition(self) -> str:
        side = {"map_nchw": "map", "map_nhwc": "map", "tokens": "tokens"}
        return f"{side[self.src.kind]}->{side[self.dst.kind]}"


@dataclass(frozen=True)
class StitchCost:
    params: int
    flops: int  # torch.utils.flop_counter convention: a multiply-add counts 2, one image


def _unsupported(src: Endpoint, dst: Endpoint) -> str | None:
    """Why no stitch can join ``src`` to ``dst``; None when one can."""
    if src.kind == "tokens" and dst.kind == "tokens" and src.num_patches == dst.num_patches:
        return None
    for name, end in (("source", src), ("destination", dst)):
        if end.kind == "tokens" and end.grid_or_none() is None:
            return (
                f"the {name} has {end.num_patches} patch tokens, which is not a square grid; "
                "a stitch needs the grid to reshape tokens to a map — choose another block pair"
            )
    return None


def _resampling(
    src_grid: tuple[int, int], dst_grid: tuple[int, int], c_in: int, allow_patch_conv: bool
) -> tuple[Resample, int, tuple[int, int], tuple[int, int], Resample]:
    """(pre, kernel, core_in_grid, core_out_grid, post) for moving a grid from src to dst size."""
    (h, w), (hh, ww) = src_grid, dst_grid
    if (h, w) == (hh, ww):
        return "none", 1, src_grid, dst_grid, "none"
    if h % hh == 0 and w % ww == 0 and h // hh == w // ww:
        r = h // hh
        if allow_patch_conv and c_in * r * r <= MAX_PATCH_FEATURES:
            return "none", r, src_grid, dst_grid, "none"
        return "avgpool", 1, dst_grid, dst_grid, "none"
    if hh % h == 0 and ww % w == 0 and hh // h == ww // w:
        return "none", 1, src_grid, src_grid, "nearest"
    if hh <= h and ww <= w:
        return "adaptive_avg", 1, dst_grid, dst_grid, "none"
    return "none", 1, src_grid, src_grid, "bilinear"


def plan_stitch(src: Endpoint, dst: Endpoint) -> StitchPlan:
    """The deterministic structure of the stitch from ``src`` (block k's output) to ``dst``
    (block k+1's input). Raises InvalidInput when the pair cannot be stitched."""
    why = _unsupported(src, dst)
    if why is not None:
        raise InvalidInput(why, details={"src": src.to_dict(), "dst": dst.to_dict()})
    c_in, c_out = src.channels, dst.channels
    prefix_from_src = min(src.prefix, dst.prefix) if src.kind == "tokens" and dst.kind == "tokens" else 0
    prefix_learned = dst.prefix - prefix_from_src

    if src.kind == "tokens" and dst.kind == "tokens":
        src_grid, dst_grid = src.grid_or_none(), dst.grid_or_none()
        if src.num_patches == dst.num_patches:  # same token count: no reshaping at all
            return StitchPlan(
                src, dst, "linear", 1, c_in, c_out, src_grid, src_grid, dst_grid, dst_grid, "none", "none",
                prefix_from_src, prefix_learned,
            )  # fmt: skip
        assert src_grid is not None and dst_grid is not None
        pre, _, core_in, core_out, post = _resampling(src_grid, dst_grid, c_in, allow_patch_conv=False)
        return StitchPlan(
            src, dst, "linear", 1, c_in, c_out, src_grid, core_in, core_out, dst_grid, pre, post,
            prefix_from_src, prefix_learned,
        )  # fmt: skip

    src_grid, dst_grid = src.grid_or_none(), dst.grid_or_none()
    assert src_grid is not None and dst_grid is not None
    pre, kernel, core_in, core_out, post = _resampling(src_grid, dst_grid, c_in, allow_patch_conv=True)
    return StitchPlan(
        src, dst, "conv", kernel, c_in, c_out, src_grid, core_in, core_out, dst_grid, pre, post,
        0, prefix_learned,
    )  # fmt: skip


def stitch_supported(src: NodeSpec, dst: NodeSpec) -> bool:
    """Whether block k ending at ``src`` can be stitched to block k+1 starting at ``dst``."""
    return _unsupported(Endpoint.output_of(src), Endpoint.input_of(dst)) is None


def plan_cost(plan: StitchPlan) -> StitchCost:
    """Exact parameters and FLOPs of a planned stitch (the affine map is the only counted op:
    pooling, resizing, reshapes and concatenation cost no FLOPs in torch's flop counter)."""
    fan_in = plan.c_in * plan.kernel * plan.kernel
    params = fan_in * plan.c_out + plan.c_out + plan.prefix_learned * plan.c_out
    flops = 2 * fan_in * plan.c_out * plan.core_positions
    return StitchCost(params=params, flops=flops)


def stitch_cost(src: NodeSpec, dst: NodeSpec) -> StitchCost:
    """Params and FLOPs of the stitch from the output of ``src`` to the input of ``dst``, from shapes
    alone. Raises InvalidInput for a pair ``stitch_supported`` rejects."""
    return plan_cost(plan_stitch(Endpoint.output_of(src), Endpoint.input_of(dst)))


def image_node(input_size: tuple[int, ...]) -> NodeSpec:
    """A pseudo-node whose output is the image batch, so ``stitch_cost(image_node(size), node)`` is the
    cost of a stitched stem that feeds ``node`` straight from the image."""
    shape = tuple(int(s) for s in input_size)
    return NodeSpec(
        index=-1, path="<image>", kind="map_nchw", in_kind="map_nchw", num_prefix_tokens=0,
        in_shape=shape, out_shape=shape, params=0, flops=0,
    )  # fmt: skip


def head_cost(last: NodeSpec, num_classes: int) -> StitchCost:
    """Params and FLOPs of the new head (pool → Linear) after ``last``."""
    c = Endpoint.output_of(last).channels
    return StitchCost(params=c * num_classes + num_classes, flops=2 * c * num_classes)
