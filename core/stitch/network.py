"""The reassembled network: stem → block₀ → stitch → block₁ → … → new head.

The first block keeps its own model's pretrained stem when it starts at that model's node 0.
Otherwise the stem is a stitch from the image to the first block's input (a patchify conv when the
block expects a coarser grid, plus learned prefix tokens for a ViT block) — the donor's stem and the
nodes before the block are not taken, so the search can cost a stitched stem like any other stitch.
Blocks are deep copies: training the network never changes the donors.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.device import module_device
from core.dissect.types import Dissection, NodeSpec
from core.errors import InvalidInput
from core.progress import Progress, no_progress
from core.stitch.adapter import Stitch
from core.stitch.fit import fit_stitch
from core.stitch.head import PoolHead
from core.stitch.plan import Endpoint, StitchCost, plan_cost, plan_stitch


class SplitLike(Protocol):
    """What the network needs of ``core.dissect.split``'s result."""

    stem: nn.Module
    nodes: nn.ModuleList

    def block(self, first: int, last: int) -> nn.Sequential: ...


@dataclass(frozen=True)
class DonorModel:
    """A model blocks are taken from, as the loader must recreate it with timm."""

    key: str
    timm_name: str
    input_size: tuple[int, int, int]
    kwargs: dict[str, Any] = field(default_factory=dict)
    weights_sha256: str | None = None
    # The donor's own input normalisation; empty = the same as the network's input.
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "timm_name": self.timm_name,
            "input_size": list(self.input_size),
            "kwargs": dict(self.kwargs),
            "weights_sha256": self.weights_sha256,
            "mean": list(self.mean),
            "std": list(self.std),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DonorModel:
        size = tuple(int(s) for s in d["input_size"])
        return cls(
            d["key"], d["timm_name"], size, dict(d.get("kwargs", {})), d.get("weights_sha256"),  # type: ignore[arg-type]
            tuple(float(v) for v in d.get("mean", ())), tuple(float(v) for v in d.get("std", ())),
        )  # fmt: skip


@dataclass(frozen=True)
class BlockRef:
    """Nodes ``first..last`` (inclusive) of donor ``model``."""

    model: str
    first: int
    last: int

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "first": self.first, "last": self.last}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BlockRef:
        return cls(str(d["model"]), int(d["first"]), int(d["last"]))


@dataclass(frozen=True)
class AssemblySpec:
    """A candidate network: blocks in order, their donors, the target class count and a seed for
    the (deterministic) initial weights of stitches and head."""

    blocks: tuple[BlockRef, ...]
    donors: tuple[DonorModel, ...]
    num_classes: int
    seed: int = 0

    def donor(self, key: str) -> DonorModel:
        for d in self.donors:
            if d.key == key:
                return d
        raise InvalidInput(f"block refers to model {key!r}, which is not among the donors {self.donor_keys}")

    @property
    def donor_keys(self) -> list[str]:
        return [d.key for d in self.donors]

    @property
    def input_size(self) -> tuple[int, int, int]:
        """The network's image size: the first block's donor's."""
        return self.donor(self.blocks[0].model).input_size

    def to_dict(self) -> dict[str, Any]:
        return {
            "blocks": [b.to_dict() for b in self.blocks],
            "donors": [d.to_dict() for d in self.donors],
            "num_classes": self.num_classes,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AssemblySpec:
        return cls(
            blocks=tuple(BlockRef.from_dict(b) for b in d["blocks"]),
            donors=tuple(DonorModel.from_dict(x) for x in d["donors"]),
            num_classes=int(d["num_classes"]),
            seed=int(d.get("seed", 0)),
        )


def _block_nodes(
    spec: AssemblySpec, dissections: Mapping[str, Dissection]
) -> list[tuple[NodeSpec, NodeSpec]]:
    """(first node, last node) of every block, validating keys and ranges."""
    if not spec.blocks:
        raise InvalidInput("an assembly needs at least one block")
    out = []
    for i, ref in enumerate(spec.blocks):
        spec.donor(ref.model)
        if ref.model not in dissections:
            raise InvalidInput(f"no dissection given for model {ref.model!r} (block {i})")
        nodes = dissections[ref.model].nodes
        if not 0 <= ref.first <= ref.last < len(nodes):
            raise InvalidInput(
                f"block {i} asks for nodes {ref.first}..{ref.last} of {ref.model!r}, "
                f"which has nodes 0..{len(nodes) - 1}"
            )
        out.append((nodes[ref.first], nodes[ref.last]))
    return out


def plan_assembly(
    spec: AssemblySpec, dissections: Mapping[str, Dissection]
) -> list[tuple[Endpoint, Endpoint]]:
    """Endpoints of every stitch, stem stitch first when the first block does not start at node 0.
    Raises InvalidInput naming the first pair that cannot be stitched."""
    ends = _block_nodes(spec, dissections)
    pairs: list[tuple[Endpoint, Endpoint]] = []
    if spec.blocks[0].first != 0:
        pairs.append((Endpoint.image(spec.input_size), Endpoint.input_of(ends[0][0])))
    for i in range(len(ends) - 1):
        pairs.append((Endpoint.output_of(ends[i][1]), Endpoint.input_of(ends[i + 1][0])))
    for src, dst in pairs:
        plan_stitch(src, dst)  # raises with the reason
    return pairs


def assembly_cost(spec: AssemblySpec, dissections: Mapping[str, Dissection]) -> StitchCost:
    """Params and FLOPs of the whole network from the dissections alone (stem, blocks, stitches, head)."""
    ends = _block_nodes(spec, dissections)
    params, flops = 0, 0
    if spec.blocks[0].first == 0:
        first = dissections[spec.blocks[0].model]
        params, flops = first.stem_params, first.stem_flops
    for ref in spec.blocks:
        for node in dissections[ref.model].nodes[ref.first : ref.last + 1]:
            params, flops = params + node.params, flops + node.flops
    for src, dst in plan_assembly(spec, dissections):
        c = plan_cost(plan_stitch(src, dst))
        params, flops = params + c.params, flops + c.flops
    channels = Endpoint.output_of(ends[-1][1]).channels
    params += channels * spec.num_classes + spec.num_classes
    flops += 2 * channels * spec.num_classes
    return StitchCost(params=params, flops=flops)


class ReassembledNet(nn.Module):
    """Blocks of several donors joined by stitches, with a new head for ``spec.num_classes``."""

    def __init__(
        self,
        spec: AssemblySpec,
        splits: Mapping[str, SplitLike],
        dissections: Mapping[str, Dissection],
        device: torch.device | str | None = None,
    ):
        """``device``: where the whole network lives (default: where the first block's donor is),
        so stitches and head are never left on the CPU beside blocks on a GPU."""
        super().__init__()
        self.spec = spec
        ends = _block_nodes(spec, dissections)
        pairs = plan_assembly(spec, dissections)
        for ref in spec.blocks:
            if ref.model not in splits:
                raise InvalidInput(f"no split model given for {ref.model!r}")
        first = spec.blocks[0]
        self.stem: nn.Module
        if first.first == 0:
            self.stem = copy.deepcopy(splits[first.model].stem)
            self.stem_stitched = False
        else:
            src, dst = pairs.pop(0)
            self.stem = Stitch(src, dst, seed=spec.seed)
            self.stem_stitched = True
        self.blocks = nn.ModuleList(
            copy.deepcopy(splits[r.model].block(r.first, r.last)) for r in spec.blocks
        )
        self.stitches = nn.ModuleList(Stitch(src, dst, seed=spec.seed) for src, dst in pairs)
        self.head = PoolHead(Endpoint.output_of(ends[-1][1]), spec.num_classes, seed=spec.seed)
        self.block_nodes = [(a.to_dict(), b.to_dict()) for a, b in ends]
        self.frozen = False
        self.train_stem = True
        self.to(device if device is not None else module_device(self.blocks[0]))
        self.eval()  # a fresh candidate is scored and fitted in eval mode; training calls .train()

    @property
    def input_size(self) -> tuple[int, int, int]:
        return self.spec.input_size

    def all_stitches(self) -> list[Stitch]:
        """Every stitch, stem stitch first."""
        lead = [self.stem] if isinstance(self.stem, Stitch) else []
        return [*lead, *(s for s in self.stitches if isinstance(s, Stitch))]

    def forward_features(self, x: Tensor) -> Tensor:
        x = self.blocks[0](self.stem(x))
        for stitch, block in zip(self.stitches, list(self.blocks)[1:], strict=True):
            x = block(stitch(x))
        return x

    def forward_head(self, x: Tensor) -> Tensor:
        return self.head(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))

    def freeze_blocks(self, train_stem: bool = False) -> ReassembledNet:
        """FZ mode: blocks (and a pretrained stem unless ``train_stem``) are frozen and kept in eval
        mode (their BatchNorm statistics do not move); stitches and head stay trainable."""
        self.frozen, self.train_stem = True, train_stem or self.stem_stitched
        for p in self.blocks.parameters():
            p.requires_grad_(False)
        for p in self.stem.parameters():
            p.requires_grad_(self.train_stem)
        return self.train(self.training)

    def unfreeze(self) -> ReassembledNet:
        """FT mode: everything trainable."""
        self.frozen, self.train_stem = False, True
        for p in self.parameters():
            p.requires_grad_(True)
        return self.train(self.training)

    def train(self, mode: bool = True) -> ReassembledNet:
        super().train(mode)
        if self.frozen:
            self.blocks.eval()
            if not self.train_stem:
                self.stem.eval()
        return self


def _to_size(images: Tensor, input_size: tuple[int, int, int]) -> Tensor:
    if images.shape[1] != input_size[0]:
        raise InvalidInput(f"images have {images.shape[1]} channels, the donor expects {input_size[0]}")
    if tuple(images.shape[2:]) == tuple(input_size[1:]):
        return images
    return F.interpolate(images, size=input_size[1:], mode="bilinear", align_corners=False)


@torch.no_grad()
def _run(module: nn.Module, x: Tensor, batch_size: int) -> Tensor:
    return torch.cat([module(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def renormalise(images: Tensor, src: DonorModel, dst: DonorModel) -> Tensor:
    """Images normalised with ``src``'s mean/std, re-normalised with ``dst``'s: every donor's blocks
    see the input statistics they were trained on (the network itself takes ``src``'s)."""
    if not (src.mean and src.std and dst.mean and dst.std) or (src.mean, src.std) == (dst.mean, dst.std):
        return images

    def col(v: tuple[float, ...]) -> Tensor:
        return torch.tensor(v, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)

    raw = images * col(src.std) + col(src.mean)
    return (raw - col(dst.mean)) / col(dst.std)


@contextlib.contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Every submodule in eval mode inside the block; each one's own flag restored afterwards."""
    flags = [(m, m.training) for module in modules for m in module.modules()]
    try:
        for module in modules:
            module.eval()
        yield
    finally:
        for m, flag in flags:
            m.training = flag


@torch.no_grad()
def donor_input_of(
    split: SplitLike, input_size: tuple[int, int, int], node: int, images: Tensor, batch_size: int = 32
) -> Tensor:
    """The tensor node ``node`` of a donor receives inside its own model for ``images``."""
    prefix = nn.Sequential(split.stem, *list(split.nodes)[:node])
    with eval_mode(prefix):
        return _run(prefix, _to_size(images, input_size), batch_size)


@torch.no_grad()
def fit_stitches(
    net: ReassembledNet,
    splits: Mapping[str, SplitLike],
    images: Tensor,
    ridge: float | None = None,
    batch_size: int = 32,
    progress: Progress | None = None,
) -> list[float]:
    """Least-squares fit of every stitch in order, each on the features the network really feeds it
    (earlier stitches already fitted), towards what the block's donor computes on the same images
    in its own normalisation. Returns the relative residuals, stem stitch first."""
    report = progress or no_progress
    spec = net.spec
    entry = spec.donor(spec.blocks[0].model)
    residuals: list[float] = []
    total = len(net.all_stitches())

    def target_of(ref: BlockRef) -> Tensor:
        donor = spec.donor(ref.model)
        own = renormalise(images, entry, donor)
        return donor_input_of(splits[ref.model], donor.input_size, ref.first, own, batch_size)

    images = images.to(module_device(net))
    with eval_mode(net):
        x = _to_size(images, spec.input_size)
        if isinstance(net.stem, Stitch):
            residuals.append(fit_stitch(net.stem, x, target_of(spec.blocks[0]), ridge))
            report(len(residuals) / total, f"fitted stem stitch (residual {residuals[-1]:.3g})")
        h = _run(net.blocks[0], _run(net.stem, x, batch_size), batch_size)
        for i, stitch in enumerate(net.stitches):
            target = target_of(spec.blocks[i + 1])
            assert isinstance(stitch, Stitch)
            residuals.append(fit_stitch(stitch, h, target, ridge))
            report(len(residuals) / total, f"fitted stitch {i} (residual {residuals[-1]:.3g})")
            h = _run(net.blocks[i + 1], _run(stitch, h, batch_size), batch_size)
    return residuals


def build_reassembled(
    spec: AssemblySpec,
    splits: Mapping[str, SplitLike],
    dissections: Mapping[str, Dissection],
    probe_images: Tensor | None = None,
    ridge: float | None = None,
    progress: Progress | None = None,
    device: torch.device | str | None = None,
) -> ReassembledNet:
    """Build a candidate on ``device`` (default: the first block's donor's) and, given probe images
    (N, C, H, W, normalised like the first block's donor's input, which is the network's input),
    initialise its stitches by least squares there."""
    net = ReassembledNet(spec, splits, dissections, device=device)
    if probe_images is not None:
        fit_stitches(net, splits, probe_images, ridge, progress=progress)
    return net


def stitch_records(net: ReassembledNet) -> list[dict[str, Any]]:
    """Spec, cost and fit residual of every stitch, stem stitch first (for manifests and reports)."""
    out = []
    for i, s in enumerate(net.all_stitches()):
        where = "stem" if (i == 0 and net.stem_stitched) else f"after_block_{i - int(net.stem_stitched)}"
        c = s.cost
        out.append({"position": where, **s.spec(), "transition": s.plan.transition, "params": c.params,
                    "flops": c.flops, "fit_residual": s.fit_residual, "fit_ridge": s.fit_ridge})  # fmt: skip
    return out
