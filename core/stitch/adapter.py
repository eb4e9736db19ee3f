"""The stitching layer: layout conversion, parameter-free resampling and ONE affine map.

The structure comes from ``plan_stitch`` (shapes only). Weights start from a seeded
PyTorch-default-like uniform draw whose seed is derived from the stitch's own spec, so building
the same stitch twice gives bit-identical weights; ``fit_stitch`` then replaces them by least squares.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.dissect.types import NodeSpec
from core.stitch.plan import Endpoint, StitchCost, StitchPlan, plan_cost, plan_stitch


def _resample(x: Tensor, how: str, size: tuple[int, int]) -> Tensor:
    """Parameter-free resampling of an NCHW map to ``size`` (each output is a convex combination)."""
    if how == "none":
        return x
    if how == "avgpool":
        r = x.shape[-1] // size[1]
        return F.avg_pool2d(x, kernel_size=r, stride=r)
    if how == "adaptive_avg":
        return F.adaptive_avg_pool2d(x, size)
    if how == "nearest":
        return F.interpolate(x, size=size, mode="nearest")
    if how == "bilinear":
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    raise ValueError(f"unknown resampling {how!r}")


def _tokens_to_grid(t: Tensor, grid: tuple[int, int]) -> Tensor:
    """(B, N, C) patch tokens → (B, C, H, W)."""
    return t.transpose(1, 2).reshape(t.shape[0], t.shape[2], grid[0], grid[1])


def _grid_to_tokens(x: Tensor) -> Tensor:
    """(B, C, H, W) → (B, H*W, C) patch tokens."""
    return x.flatten(2).transpose(1, 2)


def spec_seed(src: Endpoint, dst: Endpoint, seed: int) -> int:
    """A stable 63-bit seed from the stitch's endpoints and a user seed (no process-dependent hash)."""
    text = json.dumps({"src": src.to_dict(), "dst": dst.to_dict(), "seed": seed}, sort_keys=True)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


class Stitch(nn.Module):
    """Maps block k's output (``src`` layout) to the input block k+1 expects (``dst`` layout)."""

    def __init__(self, src: Endpoint, dst: Endpoint, seed: int = 0):
        super().__init__()
        self.src, self.dst, self.seed = src, dst, seed
        self.plan: StitchPlan = plan_stitch(src, dst)
        p = self.plan
        self.proj: nn.Module
        if p.core == "conv":
            self.proj = nn.Conv2d(p.c_in, p.c_out, kernel_size=p.kernel, stride=p.kernel, bias=True)
        else:
            self.proj = nn.Linear(p.c_in, p.c_out, bias=True)
        self.prefix: nn.Parameter | None = (
            nn.Parameter(torch.zeros(1, p.prefix_learned, p.c_out)) if p.prefix_learned else None
        )
        self.fit_residual: float | None = None  # set by fit_stitch
        self.fit_ridge: float | None = None  # set by fit_stitch
        self.reset_parameters()

    @classmethod
    def between(cls, src: NodeSpec, dst: NodeSpec, seed: int = 0) -> Stitch:
        """The stitch from the output of node ``src`` to the input of node ``dst``."""
        return cls(Endpoint.output_of(src), Endpoint.input_of(dst), seed)

    @property
    def cost(self) -> StitchCost:
        return plan_cost(self.plan)

    def spec(self) -> dict[str, Any]:
        """What is needed to rebuild this stitch (weights aside)."""
        return {"src": self.src.to_dict(), "dst": self.dst.to_dict(), "seed": self.seed}

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Seeded uniform(±1/sqrt(fan_in)) like PyTorch's default, prefix tokens at zero."""
        gen = torch.Generator().manual_seed(spec_seed(self.src, self.dst, self.seed))
        weight: Tensor = self.proj.weight  # type: ignore[assignment]
        bias: Tensor = self.proj.bias  # type: ignore[assignment]
        bound = 1.0 / math.sqrt(self.plan.c_in * self.plan.kernel**2)
        weight.copy_(torch.rand(weight.shape, generator=gen, dtype=torch.float64).mul(2 * bound).sub(bound))
        bias.copy_(torch.rand(bias.shape, generator=gen, dtype=torch.float64).mul(2 * bound).sub(bound))
        if self.prefix is not None:
            self.prefix.zero_()
        self.fit_residual = self.fit_ridge = None

    # -- the pieces of forward, also used by the least-squares fit ---------------------------------
    def _split_src(self, x: Tensor) -> tuple[Tensor | None, Tensor]:
        """Source → (prefix tokens fed to the affine map or None, spatial part after pre-resampling).
        The spatial part is (B, N, C) tokens for a Linear core, (B, C, H, W) for a conv core."""
        p = self.plan
        prefix = x[:, : p.prefix_from_src] if p.prefix_from_src else None
        if self.src.kind == "tokens":
            body = x[:, self.src.prefix :]
            if p.pre == "none" and p.core == "linear":
                return prefix, body
            assert p.src_grid is not None and p.core_in_grid is not None
            body = _resample(_tokens_to_grid(body, p.src_grid), p.pre, p.core_in_grid)
            return prefix, (_grid_to_tokens(body) if p.core == "linear" else body)
        body = x.permute(0, 3, 1, 2) if self.src.kind == "map_nhwc" else x
        assert p.core_in_grid is not None
        return prefix, _resample(body, p.pre, p.core_in_grid)

    def _finish(self, prefix: Tensor | None, body: Tensor) -> Tensor:
        """Affine-map output (prefix rows, spatial part) → destination layout after post-resampling."""
        p = self.plan
        if p.post != "none":
            assert p.core_out_grid is not None and p.dst_grid is not None
            grid = _tokens_to_grid(body, p.core_out_grid) if p.core == "linear" else body
            body = _resample(grid, p.post, p.dst_grid)
            if p.core == "linear":
                body = _grid_to_tokens(body)
        if self.dst.kind == "map_nchw":
            return body
        if self.dst.kind == "map_nhwc":
            return body.permute(0, 2, 3, 1)
        tokens = _grid_to_tokens(body) if p.core == "conv" else body
        parts = [prefix] if prefix is not None else []
        if self.prefix is not None:
            parts.append(self.prefix.expand(tokens.shape[0], -1, -1))
        return torch.cat([*parts, tokens], dim=1) if parts else tokens

    def forward(self, x: Tensor) -> Tensor:
        prefix, body = self._split_src(x)
        if self.plan.core == "linear":
            n = 0 if prefix is None else prefix.shape[1]
            y = self.proj(body if prefix is None else torch.cat([prefix, body], dim=1))
            return self._finish(y[:, :n] if n else None, y[:, n:])
        return self._finish(None, self.proj(body))

    def design_rows(self, x: Tensor) -> Tensor:
        """(rows, fan_in) inputs of the affine map for a source batch, row order as ``target_rows``.

        When the stitch resamples after the map (upsampling), the map is 1x1 and the resampling
        commutes with it, so the rows are the source resampled to the destination grid: the least
        squares then fits the stitch's real output exactly, whatever the interpolation."""
        p = self.plan
        prefix, body = self._split_src(x)
        if p.post != "none":
            assert p.core_out_grid is not None and p.dst_grid is not None
            grid = _tokens_to_grid(body, p.core_out_grid) if p.core == "linear" else body
            body = _grid_to_tokens(_resample(grid, p.post, p.dst_grid))
        elif p.core == "conv":
            k = p.kernel
            body = (F.unfold(body, kernel_size=k, stride=k) if k > 1 else body.flatten(2)).transpose(1, 2)
        rows = body if prefix is None else torch.cat([prefix, body], dim=1)
        return rows.reshape(-1, rows.shape[-1])

    def target_rows(self, t: Tensor) -> tuple[Tensor, Tensor | None]:
        """A destination-layout target → ((rows, c_out) wanted outputs of the affine map, learned
        prefix targets (B, prefix_learned, c_out) or None)."""
        p = self.plan
        learned = None
        if self.dst.kind == "tokens":
            prefix = t[:, : p.prefix_from_src] if p.prefix_from_src else None
            if p.prefix_learned:
                learned = t[:, p.prefix_from_src : self.dst.prefix]
            body = t[:, self.dst.prefix :]
        else:
            prefix = None
            body = _grid_to_tokens(t.permute(0, 3, 1, 2) if self.dst.kind == "map_nhwc" else t)
        rows = body if prefix is None else torch.cat([prefix, body], dim=1)
        return rows.reshape(-1, rows.shape[-1]), learned

    def affine(self) -> tuple[Tensor, Tensor]:
        """The affine map as a ((c_out, fan_in) weight, (c_out,) bias) pair (views, not copies)."""
        w: Tensor = self.proj.weight  # type: ignore[assignment]
        b: Tensor = self.proj.bias  # type: ignore[assignment]
        return w.reshape(self.plan.c_out, -1), b

    @torch.no_grad()
    def set_affine(self, weight: Tensor, bias: Tensor, learned_prefix: Tensor | None) -> None:
        """Load an affine map given as (c_out, fan_in) weight and (c_out,) bias."""
        w: Tensor = self.proj.weight  # type: ignore[assignment]
        b: Tensor = self.proj.bias  # type: ignore[assignment]
        w.copy_(weight.reshape(w.shape).to(w.dtype))
        b.copy_(bias.to(b.dtype))
        if self.prefix is not None and learned_prefix is not None:
            self.prefix.copy_(learned_prefix.reshape(self.prefix.shape).to(self.prefix.dtype))

    def extra_repr(self) -> str:
        p = self.plan
        return (
            f"{p.transition}: {self.src.kind}{tuple(self.src.shape)} -> "
            f"{self.dst.kind}{tuple(self.dst.shape)}, "
            f"pre={p.pre}, {p.core} k={p.kernel}, post={p.post}, prefix_from_src={p.prefix_from_src}, "
            f"prefix_learned={p.prefix_learned}"
        )


def build_stitch(src: NodeSpec, dst: NodeSpec, seed: int = 0) -> Stitch:
    """The stitch from the output of ``src`` to the input of ``dst`` (deterministic weights)."""
    return Stitch.between(src, dst, seed)
