"""From a partition to a ranked list of built candidates (DeRy §3.3, training-free).

1. Per-model transferability on the target (LogME of the donor's own pooled features), min-max
   normalised to [0, 1]: the per-block score of the integer program.
2. Interface compatibility: CKA between the output of block k and the input of block k+1, read
   from the partition's point similarity.
3. The integer program's top-N distinct solutions under the budget.
4. Every solution is built, its stitches fitted by least squares and its head in closed form on
   the target's fit split, then scored with NASWOT and LogME; the ranking uses the chosen proxy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from core.assembly.problem import Budget, assembly_problem, parse_block_id
from core.dissect import SplitModel
from core.dissect.types import Dissection
from core.progress import Progress, no_progress, scaled
from core.proxy import logme, pooled_features, score_candidate
from core.search import BlockCandidate, Solution, rerank, solve
from core.similarity import PointSimilarity
from core.stitch import (
    AssemblySpec,
    BlockRef,
    DonorModel,
    ReassembledNet,
    build_reassembled,
    fit_head_closed_form,
)
from core.stitch.network import stitch_records

Proxy = Literal["naswot", "logme"]


@dataclass
class Donor:
    """A dissected model blocks may come from, with its input normalisation."""

    key: str
    name: str
    net: nn.Module
    split: SplitModel
    dissection: Dissection
    info: DonorModel
    mean: Sequence[float]
    std: Sequence[float]


@dataclass
class TargetData:
    """Target images (uint8, N×H×W[×C]) and labels, split into a fit part and a held-out part."""

    fit_images: np.ndarray
    fit_labels: np.ndarray
    heldout_images: np.ndarray
    heldout_labels: np.ndarray
    num_classes: int


@dataclass
class Candidate:
    rank: int
    solution: Solution
    blocks: list[dict[str, Any]]
    built_params: int
    built_flops: int
    naswot: dict[str, Any]
    logme: float | None
    fit_accuracy: float
    heldout_accuracy: float
    stitches: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        s = self.solution
        return {
            "rank": self.rank,
            "blocks": self.blocks,
            "predicted_params": s.params,
            "predicted_flops": s.flops,
            "built_params": self.built_params,
            "built_flops": self.built_flops,
            "ip_objective": s.objective,
            "ip_rank": s.rank,
            "solver_status": s.status,
            "solve_seconds": s.wall_time_s,
            "proxy_scores": {"naswot": self.naswot, "logme": self.logme},
            "fit_accuracy": self.fit_accuracy,
            "heldout_accuracy": self.heldout_accuracy,
            "stitches": self.stitches,
        }


def prepare_images(images: np.ndarray, donor: Donor) -> torch.Tensor:
    from core.zoo.data import prepare

    return prepare(images, donor.info.input_size, donor.mean, donor.std)


@torch.no_grad()
def block_latencies(
    cuts: Mapping[str, Sequence[tuple[int, int]]], donors: Mapping[str, Donor], repeats: int = 5
) -> dict[str, float]:
    """Median wall time (ms) of every candidate block on one image, measured on this worker."""
    import time

    from core.assembly.problem import block_id

    out = {}
    for key, blocks in cuts.items():
        d = donors[key]
        x = d.split.stem(torch.zeros(1, *d.info.input_size))
        for first, last in blocks:
            block = d.split.block(first, last).eval()
            h = d.split.block(0, first - 1)(x) if first > 0 else x
            block(h)  # warm-up
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                block(h)
                times.append((time.perf_counter() - start) * 1000)
            out[block_id(key, first, last)] = float(np.median(times))
    return out


@torch.no_grad()
def model_scores(donors: Mapping[str, Donor], target: TargetData) -> dict[str, float]:
    """LogME of each donor's own features on the target, min-max normalised to [0, 1]."""
    raw = {}
    for key, d in donors.items():
        feats = pooled_features(d.net, prepare_images(target.fit_images, d))
        raw[key] = logme(feats.numpy(), target.fit_labels)
    lo, hi = min(raw.values()), max(raw.values())
    return {k: (v - lo) / (hi - lo) if hi > lo else 1.0 for k, v in raw.items()}


def compatibility_from(sim: PointSimilarity, order: Sequence[str]):  # type: ignore[no-untyped-def]
    """CKA(output of block a, input of block b) from the partition's point similarity."""
    index = {key: i for i, key in enumerate(order)}

    def compat(a: BlockCandidate, b: BlockCandidate) -> float:
        ma, _, last = parse_block_id(a.id)
        mb, first, _ = parse_block_id(b.id)
        return float(sim.pair(index[ma], index[mb])[last + 1, first])

    return compat


def spec_of(solution: Solution, donors: Mapping[str, Donor], num_classes: int, seed: int) -> AssemblySpec:
    refs = [BlockRef(*parse_block_id(b)) for b in solution.block_ids]
    used = list(dict.fromkeys(r.model for r in refs))
    return AssemblySpec(
        blocks=tuple(refs), donors=tuple(donors[k].info for k in used), num_classes=num_classes, seed=seed
    )


def build_candidate(
    solution: Solution, donors: Mapping[str, Donor], target: TargetData, seed: int, probe: int
) -> tuple[ReassembledNet, float, torch.Tensor, torch.Tensor]:
    """Build, LS-fit stitches and fit the head in closed form; returns (net, fit accuracy, images, labels)."""
    spec = spec_of(solution, donors, target.num_classes, seed)
    first = donors[spec.blocks[0].model]
    images = prepare_images(target.fit_images, first)
    labels = torch.from_numpy(target.fit_labels)
    splits = {k: donors[k].split for k in spec.donor_keys}
    dissections = {k: donors[k].dissection for k in spec.donor_keys}
    net = build_reassembled(spec, splits, dissections, probe_images=images[:probe])
    fit_acc = fit_head_closed_form(net, images, labels)
    return net, fit_acc, images, labels


@torch.no_grad()
def accuracy(net: nn.Module, images: torch.Tensor, labels: np.ndarray, batch_size: int = 256) -> float:
    net.eval()
    preds = torch.cat([net(images[i : i + batch_size]).argmax(1) for i in range(0, len(images), batch_size)])
    return float((preds.numpy() == labels).mean())


def search_and_rank(
    cuts: Mapping[str, Sequence[tuple[int, int]]],
    donors: Mapping[str, Donor],
    sim: PointSimilarity,
    target: TargetData,
    budget: Budget,
    *,
    proxy: Proxy = "naswot",
    top_n: int = 5,
    compat_weight: float = 1.0,
    seed: int = 0,
    probe_images: int = 256,
    time_limit_s: float = 60.0,
    progress: Progress | None = None,
) -> tuple[list[Candidate], dict[str, float], ReassembledNet]:
    """Ranked candidates (best first), the per-model scores used, and the best network built."""
    report = progress or no_progress
    report(0.02, "scoring each donor's transferability on the target (LogME)")
    scores = model_scores(donors, target)
    latencies = None
    if budget.max_latency_ms is not None:
        report(0.06, "timing every candidate block on this worker")
        latencies = block_latencies(cuts, donors)
    problem = assembly_problem(
        cuts,
        {k: d.dissection for k, d in donors.items()},
        target.num_classes,
        budget,
        scores=scores,
        compatibility=compatibility_from(sim, list(cuts)),
        compat_weight=compat_weight,
        latencies=latencies,
    )
    report(0.1, f"solving the integer program for the top {top_n}")
    solutions = solve(problem, top_n=top_n, time_limit_s=time_limit_s)
    built: dict[int, tuple[ReassembledNet, Candidate]] = {}

    def score(sol: Solution) -> Any:
        net, fit_acc, images, labels = build_candidate(sol, donors, target, seed, probe_images)
        sub = scaled(
            report, 0.2 + 0.75 * len(built) / len(solutions), 0.2 + 0.75 * (len(built) + 1) / len(solutions)
        )
        scores_ = score_candidate(net, images[:probe_images], labels[:probe_images], seed=seed, progress=sub)
        first = donors[parse_block_id(sol.block_ids[0])[0]]
        held = accuracy(net, prepare_images(target.heldout_images, first), target.heldout_labels)
        blocks = []
        for b in sol.block_ids:
            key, f, last = parse_block_id(b)
            nodes = donors[key].dissection.nodes
            blocks.append(
                {"model_id": key, "model_name": donors[key].name, "first_node": f, "last_node": last,
                 "first_path": nodes[f].path, "last_path": nodes[last].path}
            )  # fmt: skip
        cand = Candidate(
            rank=-1, solution=sol, blocks=blocks, built_params=scores_.params, built_flops=scores_.flops,
            naswot=scores_.naswot.to_dict(), logme=scores_.logme, fit_accuracy=fit_acc, heldout_accuracy=held,
            stitches=stitch_records(net),
        )  # fmt: skip
        built[sol.rank] = (net, cand)
        return scores_.naswot if proxy == "naswot" else float(scores_.logme or float("-inf"))

    ranked = rerank(solutions, score)
    out = []
    for position, r in enumerate(ranked):
        cand = built[r.solution.rank][1]
        cand.rank = position
        out.append(cand)
    best_net = built[ranked[0].solution.rank][0]
    report(1.0, f"best candidate: held-out accuracy {out[0].heldout_accuracy:.1%}")
    return out, scores, best_net
