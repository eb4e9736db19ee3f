"""From a partition to a chosen network and its baseline (DeRy §3.3, Eq. 8–11, made honest).

1. The integer program's pool: up to ``pool_size`` distinct chains (one block per equivalence set)
   that meet the budget and use at least ``min_donors`` donors, drawn at random (the paper draws
   budget-feasible candidates and ranks them all by a whole-network proxy).
2. Every chain is built (least-squares stitches, closed-form head with its ridge chosen on the
   validation split) and scored by a whole-network proxy: the closed-form head's validation
   accuracy (default), LogME of the assembled features, or NASWOT at initialisation.
3. The best ``finalists`` by the proxy are trained as asked (FZ/FT, keeping the best epoch on
   validation) and the one with the best validation accuracy is chosen.
4. The baseline: every zoo model that fits the same budget, kept whole with a new head, measured
   and trained the same way; the best on validation is reported beside the choice, with the gain
   on held-out data and a recommendation decided on validation.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from core.assembly.evaluate import (
    Donor,
    Evaluation,
    TargetData,
    describe_blocks,
    evaluate_chain,
    evaluation_record,
    spec_for,
)
from core.assembly.problem import Budget, assembly_problem, block_id, parse_block_id
from core.assembly.request import Proxy, SearchConfig, TrainingConfig
from core.assembly.training import Checkpoints, train_network
from core.device import enable_tf32, synchronize
from core.metrics import accuracy
from core.progress import Progress, no_progress, scaled
from core.search import Solution, candidate_pool
from core.stitch import BlockRef, StitchCost, assembly_cost


@dataclass
class Outcome:
    """What the search hands back: the scored pool, the finalists (best proxy first), the chosen
    one, every zoo model that fits the budget and the best of them (the baseline)."""

    pool: list[dict[str, Any]]
    finalists: list[Evaluation]
    chosen: int
    zoo: list[Evaluation]
    baseline: Evaluation | None
    baseline_note: str | None
    proxy: Proxy
    seconds: dict[str, float]

    @property
    def resumed_from_epoch(self) -> int | None:
        """The epoch whose checkpoint the latest checkpointed training run went on from (the run
        the previous attempt was in when its worker died); None when nothing was resumed."""
        resumed = [
            ev.history[0]["resumed_from_epoch"]
            for ev in [*self.finalists, *self.zoo]
            if ev.history and "resumed_from_epoch" in ev.history[0]
        ]
        return resumed[-1] if resumed else None

    @property
    def network(self) -> Evaluation:
        return self.finalists[self.chosen]

    @property
    def recommendation(self) -> Literal["reassembly", "zoo_model"]:
        """Decided on validation (ties go to the zoo model: it is the simpler thing to ship)."""
        if self.baseline is None:
            return "reassembly"
        better = self.network.final_validation_accuracy() > self.baseline.final_validation_accuracy()
        return "reassembly" if better else "zoo_model"

    @property
    def gain(self) -> float | None:
        """Held-out accuracy of the choice minus the baseline's, in points."""
        if self.baseline is None:
            return None
        assert self.network.heldout_accuracy is not None and self.baseline.heldout_accuracy is not None
        return round(100 * (self.network.heldout_accuracy - self.baseline.heldout_accuracy), 2)

    def to_dict(self, donors: Mapping[str, Donor]) -> dict[str, Any]:
        def zoo_record(ev: Evaluation) -> dict[str, Any]:
            key = ev.chain[0].model
            return {"model_id": key, "model_name": donors[key].name, **evaluation_record(ev, donors)}

        finalists = []
        for rank, ev in enumerate(self.finalists):
            finalists.append({"rank": rank, **evaluation_record(ev, donors)})
        return {
            "proxy": self.proxy,
            "candidates": finalists,
            "chosen": self.chosen,
            "pool": self.pool,
            "baseline": zoo_record(self.baseline) if self.baseline else None,
            "baseline_note": self.baseline_note,
            "zoo_models": [zoo_record(ev) for ev in self.zoo],
            "gain": self.gain,
            "recommendation": self.recommendation,
            "seconds": self.seconds,
            "resumed_from_epoch": self.resumed_from_epoch,
        }


@torch.no_grad()
def block_latencies(
    cuts: Mapping[str, Sequence[tuple[int, int]]],
    donors: Mapping[str, Donor],
    repeats: int = 5,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """Median wall time (ms) of every candidate block on one image, measured on this worker's
    ``device`` (CUDA work is synchronised before each clock reading: kernels run asynchronously)."""
    out = {}
    for key, blocks in cuts.items():
        d = donors[key].to(device)
        x = d.split.stem(torch.zeros(1, *d.info.input_size, device=device))
        for first, last in blocks:
            block = d.split.block(first, last).eval()
            h = d.split.block(0, first - 1)(x) if first > 0 else x
            block(h)  # warm-up
            times = []
            for _ in range(repeats):
                synchronize(device)
                start = time.perf_counter()
                block(h)
                synchronize(device)
                times.append((time.perf_counter() - start) * 1000)
            out[block_id(key, first, last)] = float(np.median(times))
    return out


def chain_of(solution: Solution) -> tuple[BlockRef, ...]:
    return tuple(BlockRef(*parse_block_id(b)) for b in solution.block_ids)


def draw_pool(
    cuts: Mapping[str, Sequence[tuple[int, int]]],
    donors: Mapping[str, Donor],
    num_classes: int,
    budget: Budget,
    config: SearchConfig,
    target_device: torch.device | None = None,
) -> list[Solution]:
    """The budget-feasible chains to score (raises Infeasible, naming the minima, when none fits)."""
    device = target_device if target_device is not None else torch.device("cpu")
    latencies = block_latencies(cuts, donors, device=device) if budget.max_latency_ms is not None else None
    problem = assembly_problem(
        cuts, {k: d.dissection for k, d in donors.items()}, num_classes, budget, latencies=latencies
    )
    return candidate_pool(problem, size=config.pool_size, min_donors=budget.min_donors, seed=config.seed)


@dataclass(frozen=True)
class Resume:
    """How training runs keep checkpoints: the store (None: no checkpoints) and bf16 autocast."""

    checkpoints: Checkpoints | None = None
    bf16: bool = False


def _finish(
    ev: Evaluation,
    donors: Mapping[str, Donor],
    target: TargetData,
    config: SearchConfig,
    report: Progress,
    run: str = "train",
    resume: Resume | None = None,
) -> Evaluation:
    """Train as configured (keeping the best validation epoch, checkpointed as ``run``), then
    measure held-out accuracy."""
    entry = donors[ev.chain[0].model].info
    t = config.training
    r = resume or Resume()
    if t.mode != "none":
        ev.history = train_network(
            ev.net,
            target.inputs(entry, "fit"),
            target.label_tensor("fit"),
            (target.inputs(entry, "validation"), target.labels["validation"]),
            mode=t.mode, epochs=t.epochs, lr=t.lr, weight_decay=t.weight_decay, batch_size=t.batch_size,
            seed=config.seed, progress=report, checkpoints=r.checkpoints, run=run, bf16=r.bf16,
        )  # fmt: skip
    ev.heldout_accuracy = accuracy(ev.net, target.inputs(entry, "heldout"), target.labels["heldout"])
    return ev


def whole_costs(donors: Mapping[str, Donor], num_classes: int) -> dict[str, StitchCost]:
    """Params and FLOPs of every zoo model kept whole with a new head, by donor key."""
    dissections = {k: d.dissection for k, d in donors.items()}
    return {
        k: assembly_cost(spec_for(d.whole(), donors, num_classes, 0), dissections) for k, d in donors.items()
    }


def zoo_that_fits(donors: Mapping[str, Donor], num_classes: int, budget: Budget) -> list[Donor]:
    """Zoo models that, kept whole with a new head, meet the budget's upper bounds (the lower bounds
    exist to push the search away from zoo models, so they do not rule a baseline out)."""
    costs = whole_costs(donors, num_classes)
    return [
        d
        for k, d in donors.items()
        if (budget.max_params is None or costs[k].params <= budget.max_params)
        and (budget.max_flops is None or costs[k].flops <= budget.max_flops)
    ]


def _no_baseline_note(donors: Mapping[str, Donor], num_classes: int) -> str:
    costs = whole_costs(donors, num_classes)
    key = min(costs, key=lambda k: (costs[k].params, costs[k].flops))
    return (
        f"no zoo model fits the budget (the smallest, {donors[key].name}, has {costs[key].params:,} params "
        f"and {costs[key].flops:,} FLOPs with a new head): here reassembly is the only answer"
    )


def search(
    cuts: Mapping[str, Sequence[tuple[int, int]]],
    donors: Mapping[str, Donor],
    target: TargetData,
    budget: Budget,
    config: SearchConfig | None = None,
    progress: Progress | None = None,
    resume: Resume | None = None,
) -> Outcome:
    """Pool → proxy ranking → finalists trained → choice on validation → baseline. See the module doc.

    Everything runs on ``target.device`` (the donors are moved there). ``resume``: training
    checkpoints per run (``finalist-<n>``, ``baseline-<model>``), so a job picked up again after its
    worker died continues each run from its last epoch; ``Outcome.resumed_from_epoch`` says from
    which epoch the latest checkpointed run went on."""
    cfg = config or SearchConfig()
    report = progress or no_progress
    enable_tf32(target.device)  # float32 matmuls of forward passes and training (LS fits are float64)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    report(0.01, "drawing the pool of budget-feasible chains")
    solutions = draw_pool(cuts, donors, target.num_classes, budget, cfg, target.device)
    seconds["pool"] = time.perf_counter() - clock

    with_naswot = cfg.score_naswot or cfg.proxy == "naswot"
    pool: list[dict[str, Any]] = []
    rank_keys: list[tuple[float, int]] = []  # (−proxy, pool index): ascending = best first
    kept: dict[int, Evaluation] = {}  # the best `finalists` so far, networks and all
    clock = time.perf_counter()
    for i, sol in enumerate(solutions):
        ev = evaluate_chain(
            chain_of(sol),
            donors,
            target,
            seed=cfg.seed,
            probe_images=cfg.probe_images,
            with_naswot=with_naswot,
        )
        pool.append(
            {"block_ids": list(sol.block_ids), "donors": ev.donors, "predicted_params": sol.params,
             "predicted_flops": sol.flops, "built_params": ev.params, "built_flops": ev.flops,
             "proxy_scores": ev.scores()}
        )  # fmt: skip
        rank_keys.append((-ev.proxy(cfg.proxy), i))
        kept[i] = ev
        if len(kept) > cfg.finalists:
            del kept[max(kept, key=lambda j: rank_keys[j])]
        report(0.05 + 0.6 * (i + 1) / len(solutions), f"scored chain {i + 1}/{len(solutions)}")
    seconds["score_pool"] = time.perf_counter() - clock

    order = [i for _, i in sorted(rank_keys)]
    for position, i in enumerate(order):
        pool[i]["proxy_rank"] = position
    clock = time.perf_counter()
    top = order[: cfg.finalists]
    finalists = []
    for n, i in enumerate(top):
        step = scaled(report, 0.65 + 0.2 * n / len(top), 0.65 + 0.2 * (n + 1) / len(top))
        step(0.0, f"training finalist {n + 1}/{len(top)}")
        finalists.append(_finish(kept[i], donors, target, cfg, step, f"finalist-{n}", resume))
    chosen = max(range(len(finalists)), key=lambda n: (finalists[n].final_validation_accuracy(), -n))
    seconds["finalists"] = time.perf_counter() - clock

    clock = time.perf_counter()
    fitting = zoo_that_fits(donors, target.num_classes, budget)
    zoo = []
    for n, d in enumerate(fitting):
        step = scaled(report, 0.85 + 0.15 * n / len(fitting), 0.85 + 0.15 * (n + 1) / len(fitting))
        step(0.0, f"baseline: {d.name} kept whole with a new head")
        ev = evaluate_chain(d.whole(), donors, target, seed=cfg.seed, probe_images=cfg.probe_images)
        zoo.append(_finish(ev, donors, target, cfg, step, f"baseline-{n}", resume))
    baseline = max(zoo, key=lambda ev: ev.final_validation_accuracy(), default=None)
    seconds["baseline"] = time.perf_counter() - clock
    note = None if baseline else _no_baseline_note(donors, target.num_classes)
    outcome = Outcome(pool, finalists, chosen, zoo, baseline, note, cfg.proxy, seconds)
    net = outcome.network
    message = f"chose {describe_chain(net.chain)}: held-out {net.heldout_accuracy:.1%}"
    if baseline is not None:
        message += f" vs {donors[baseline.chain[0].model].name} {baseline.heldout_accuracy:.1%}"
    report(1.0, message)
    return outcome


def describe_chain(chain: Sequence[BlockRef]) -> str:
    return " → ".join(f"{b.model}[{b.first}-{b.last}]" for b in chain)


__all__ = [
    "Donor",
    "Outcome",
    "SearchConfig",
    "TargetData",
    "TrainingConfig",
    "Resume",
    "block_latencies",
    "chain_of",
    "describe_blocks",
    "search",
]
