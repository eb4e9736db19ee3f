"""Does DeRy reassembly beat the best zoo model that fits a budget? (issue 10, scope item 5)

The project's 6-model zoo (heterogeneous architectures, class-subset source tasks, upright images)
is trained on the *train part* of Fashion-MNIST; the target task is the 10 classes *rotated 90° and
inverted* (``core.transfer_task.rotated_inverted``), few-shot, drawn from the *test part*: per seed
100 labelled images per class (800 fit + 200 validation, carved by ``TargetData.from_arrays``) and a
fixed held-out set of 2,000 other test-part images. Everything is chosen on fit/validation data and
reported on the held-out set:

1. the DeRy partition (CKA sketches of every zoo model on 512 upright train-part probe images, K=3,
   the partition job's optimiser) gives the equivalence sets;
2. FZ/FT hyper-parameters are chosen by a small sweep on validation (seed 0, the largest budget);
3. per budget and seed: ``core.assembly.pipeline.search`` (validation proxy, 3 finalists trained FZ)
   scores the whole pool (NASWOT at init and after the least-squares fit, LogME, closed-form
   validation accuracy); a seeded subset of the pool is trained FZ for Kendall τ of every proxy
   against FZ held-out accuracy; the chosen chain is also fine-tuned (FT) and trained from scratch
   (random init of the *reassembled architecture*); every zoo model that fits is measured kept whole
   with a new head (closed form, FZ, FT) and the best one on validation is the baseline.

Data note: ``fashion_mnist.npz`` is sorted by label (its last 10,000 images are classes 8 and 9), so
the "train part" / "test part" are a seeded stratified 60,000 / 10,000 split (seed 0, 1,000 test
images per class), not the file's first / last rows.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/dery_fashion.py [--out var/bench] [--seeds 3]
        [--pool 200] [--tau-chains 30] [--budgets abc] [--no-sweep] [--quick]

On the 2-core development machine ``--pool 60`` takes about 36 minutes with the zoo cached (the sweep
chooses 10 epochs; the default pool of 200 would take 40+); ``--quick`` is a smoke run of under a
minute. docs/results.md discusses the results.

Writes ``<out>/dery_fashion.md`` (tables), ``<out>/dery_fashion.json`` (raw per-seed numbers), the zoo
to ``<out>/zoo`` (reused when ``zoo.json`` exists) and the plot ``docs/dery_fashion.png``.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core.assembly.evaluate import Donor, TargetData, evaluate_chain, spec_for  # noqa: E402
from core.assembly.pipeline import (  # noqa: E402
    Outcome,
    SearchConfig,
    TrainingConfig,
    chain_of,
    draw_pool,
    search,
    zoo_that_fits,
)
from core.assembly.problem import Budget, block_id, parse_block_id  # noqa: E402
from core.assembly.training import (  # noqa: E402
    DEFAULT_EPOCHS,
    DEFAULT_LR,
    DEFAULT_WEIGHT_DECAY,
    Mode,
    train_network,
)
from core.dissect import dissect, split  # noqa: E402
from core.errors import Infeasible  # noqa: E402
from core.metrics import accuracy  # noqa: E402
from core.partition import node_sizes, partition  # noqa: E402
from core.similarity import PointSimilarity, compute_sketches, point_layouts, probe_batches  # noqa: E402
from core.stitch import BlockRef, DonorModel, assembly_cost  # noqa: E402
from core.transfer_task import TRANSFER_TASK, rotated_inverted  # noqa: E402
from core.zoo.data import load_npz, prepare, stratified_split  # noqa: E402
from core.zoo.train import DEFAULT, TINY, ZooSetting, load_zoo_model, read_zoo, train_zoo  # noqa: E402

NUM_CLASSES = 10
K = 3
EPSILONS = (0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0)  # the first for which every zoo model can be cut
PROXIES = ("naswot_init", "naswot_fitted", "logme", "closed_form_val", "params", "flops")
CHOICE_PROXIES = ("validation", "naswot", "logme")
START = time.perf_counter()


@dataclass(frozen=True)
class Settings:
    """Sizes of one run (full or --quick)."""

    zoo: ZooSetting
    zoo_dir: str
    probe_images: int
    fit_per_class: int
    max_fit: int
    heldout: int
    sweep_lrs: tuple[float, ...]
    sweep_wds: tuple[float, ...]
    sweep_epochs: tuple[int, ...]
    sweep_chains: int


FULL = Settings(DEFAULT, "zoo", 512, 100, 800, 2000, (1e-4, 1e-3, 1e-2), (1e-4, 5e-2), (5, 10), 2)
QUICK = Settings(TINY, "zoo-quick", 128, 20, 160, 200, (1e-3,), (1e-4, 5e-2), (2, 3), 1)


@dataclass(frozen=True)
class Hyper:
    """FZ/FT training hyper-parameters (AdamW, cosine, batch 64, best validation epoch kept)."""

    epochs: int = DEFAULT_EPOCHS
    lr: float = DEFAULT_LR
    weight_decay: float = DEFAULT_WEIGHT_DECAY


@dataclass
class Trained:
    """One network measured on the target: params, FLOPs, validation and held-out accuracy."""

    name: str
    mode: str  # closed_form | frozen | finetune | scratch
    params: int
    flops: int
    closed_form_validation: float
    validation: float  # the kept epoch's (the closed-form head's when not trained)
    heldout: float
    kept_epoch: int = 0
    seconds: float = 0.0
    history: list[float] = field(default_factory=list)
    not_reset: int = 0  # scratch only: parameter values that reset_parameters left as they were


@dataclass
class Budgeted:
    """A named budget and how it was derived."""

    label: str
    budget: Budget
    note: str


def log(message: str) -> None:
    """One progress line with the elapsed wall time."""
    print(f"[{time.perf_counter() - START:7.1f} s] {message}", flush=True)


# --------------------------------------------------------------------------------------- data, zoo


def split_parts(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified 60,000 / 10,000 train / test parts (the npz is sorted by label)."""
    train, test = stratified_split(labels, 1 / 7, 0)
    return np.sort(train), np.sort(test)


def ensure_zoo(images: np.ndarray, labels: np.ndarray, out: Path, setting: ZooSetting) -> float:
    """Train the 6-model zoo on the train part into ``out`` unless ``zoo.json`` is there; seconds."""
    if (out / "zoo.json").is_file():
        log(f"zoo: reusing {out / 'zoo.json'}")
        return 0.0
    clock = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fashion_mnist_train_part.npz"
        np.savez(path, images=images, labels=labels)
        train_zoo(
            path, out, epochs=setting.epochs, max_train_images=setting.max_train_images,
            max_eval_images=setting.max_eval_images, batch_size=setting.batch_size, seed=0, threads=1,
            progress=lambda _f, m="": log(f"zoo: {m}") if "accuracy" in m else None,
        )  # fmt: skip
    return time.perf_counter() - clock


def load_donors(zoo_dir: Path) -> dict[str, Donor]:
    """Every zoo model dissected and split, keyed by its name."""
    donors = {}
    for e in read_zoo(zoo_dir / "zoo.json"):
        net = load_zoo_model(e, zoo_dir / e.weights_file)
        dissection = dissect(net, e.input_size)
        info = DonorModel(
            e.name, e.arch, e.input_size, {"num_classes": e.num_classes, **e.kwargs},
            e.weights_sha256, tuple(e.mean), tuple(e.std),
        )  # fmt: skip
        donors[e.name] = Donor(e.name, e.name, net, split(net, dissection), dissection, info)
    return donors


def make_target(
    images: np.ndarray, labels: np.ndarray, test: np.ndarray, settings: Settings, seed: int
) -> TargetData:
    """Rotated+inverted few-shot target: a per-seed fit sample and a fixed held-out set (test part)."""
    rest, held = stratified_split(labels[test], settings.heldout / len(test), 0)
    rest, held = test[rest], test[held]
    rng = np.random.default_rng(seed)
    fit = np.concatenate(
        [rng.choice(rest[labels[rest] == c], settings.fit_per_class, replace=False) for c in range(10)]
    )
    y = labels.astype(np.int64)
    return TargetData.from_arrays(
        rotated_inverted(images[fit]), y[fit], NUM_CLASSES, seed=seed,
        heldout=(rotated_inverted(images[held]), y[held]), max_fit=settings.max_fit,
    )  # fmt: skip


# ------------------------------------------------------------------------------ partition, budgets


def transform_of(info: DonorModel) -> Callable[[torch.Tensor], torch.Tensor]:
    """uint8 probe images → the donor's normalised input."""
    return lambda x: prepare(x.numpy(), info.input_size, info.mean, info.std)


def sketch_all(donors: Mapping[str, Donor], probe: np.ndarray, batch_size: int = 64) -> list[torch.Tensor]:
    """Gram sketches of every donor on the probe images, as the partition job computes them."""
    batches = probe_batches(len(probe), batch_size, 0)
    sketches = []
    for key, d in donors.items():
        kinds, prefix = point_layouts(d.dissection)
        transform = transform_of(d.info)
        sketches.append(
            compute_sketches(
                d.split.stem, d.split.nodes, kinds, prefix, torch.from_numpy(probe), batch_size,
                batches=batches, transform=transform,
                model=key, node_paths=[n.path for n in d.dissection.nodes],
            )
        )  # fmt: skip
    return sketches


def dery_cuts(
    donors: Mapping[str, Donor], probe: np.ndarray
) -> tuple[dict[str, list[tuple[int, int]]], dict]:
    """K=3 cover-set partition from CKA (exact DP re-cut, 200 restarts, node-count sizes)."""
    sim = PointSimilarity.from_sketches(sketch_all(donors, probe))
    names = list(donors)
    dissections = [donors[n].dissection for n in names]
    for epsilon in EPSILONS:
        try:
            part = partition(
                sim, [node_sizes(d, "nodes") for d in dissections], k=K, epsilon=epsilon, restarts=200,
                seed=0, method="dp", size_measure="nodes", model_names=names,
                node_paths=[[nd.path for nd in d.nodes] for d in dissections],
            )  # fmt: skip
        except Infeasible as exc:
            log(f"partition: ε={epsilon} infeasible ({exc})")
            continue
        return {n: list(part.cuts[i]) for i, n in enumerate(names)}, part.to_dict()
    raise Infeasible(f"no ε in {EPSILONS} lets every zoo model be cut into {K} blocks")


def whole_params(donors: Mapping[str, Donor]) -> dict[str, tuple[int, int]]:
    """(params, FLOPs) of every zoo model kept whole with a new 10-class head."""
    dissections = {k: d.dissection for k, d in donors.items()}
    out = {}
    for key, d in donors.items():
        cost = assembly_cost(spec_for(d.whole(), donors, NUM_CLASSES, 0), dissections)
        out[key] = (cost.params, cost.flops)
    return out


def make_budgets(costs: Mapping[str, tuple[int, int]]) -> list[Budgeted]:
    """(a) every zoo model fits, (b) the median zoo size, (c) between the 2nd and 3rd smallest, with a
    lower bound of 0.6 × max (as the paper's scripts bound both sides)."""
    sizes = sorted(p for p, _ in costs.values())
    large = round(1.05 * sizes[-1])
    median = round(statistics.median(sizes))
    between = round((sizes[1] + sizes[2]) / 2)
    return [
        Budgeted("a", Budget(max_params=large, min_donors=2), "1.05 × the largest zoo model"),
        Budgeted("b", Budget(max_params=median, min_donors=2), "the median zoo model size"),
        Budgeted(
            "c",
            Budget(max_params=between, min_params=round(0.6 * between), min_donors=2),
            "between the 2nd and 3rd smallest zoo models, min = 0.6 × max",
        ),
    ]


# -------------------------------------------------------------------------------- measuring chains


def ids_of(chain: Sequence[BlockRef]) -> tuple[str, ...]:
    return tuple(block_id(b.model, b.first, b.last) for b in chain)


def chain_from_ids(ids: Iterable[str]) -> tuple[BlockRef, ...]:
    return tuple(BlockRef(*parse_block_id(b)) for b in ids)


def short(chain: Sequence[BlockRef]) -> str:
    """``vgg[0-1] → vit[2-3] → resnet[6-7]``."""
    return " → ".join(f"{b.model.split('_')[0]}[{b.first}-{b.last}]" for b in chain)


def heldout_of(
    net: torch.nn.Module, donors: Mapping[str, Donor], chain: Sequence[BlockRef], target: TargetData
) -> float:
    info = donors[chain[0].model].info
    return accuracy(net, target.inputs(info, "heldout"), target.labels["heldout"])


def closed_form(
    chain: Sequence[BlockRef], donors: Mapping[str, Donor], target: TargetData, seed: int, name: str = ""
) -> Trained:
    """Least-squares stitches and the closed-form head, no gradient step."""
    clock = time.perf_counter()
    ev = evaluate_chain(chain, donors, target, seed=seed)
    held = heldout_of(ev.net, donors, chain, target)
    return Trained(
        name or short(chain), "closed_form", ev.params, ev.flops, ev.validation_accuracy,
        ev.validation_accuracy, held, 0, time.perf_counter() - clock,
    )  # fmt: skip


def reset_all(net: torch.nn.Module) -> int:
    """Random init of every module of the built network that has ``reset_parameters`` (the 'scratch'
    architecture); returns how many parameter values that left unchanged (bare ``nn.Parameter``s
    such as a ViT's position embedding or ConvNeXt's layer scale keep their pretrained values)."""
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    for m in net.modules():
        reset = getattr(m, "reset_parameters", None)
        if callable(reset):
            reset()
    return sum(p.numel() for n, p in net.named_parameters() if torch.equal(p, before[n]))


def trained(
    chain: Sequence[BlockRef],
    donors: Mapping[str, Donor],
    target: TargetData,
    seed: int,
    mode: Mode,
    hyper: Hyper,
    *,
    scratch: bool = False,
    name: str = "",
    with_heldout: bool = True,
) -> Trained:
    """Build as the search does (seeded LS stitches, closed-form head), then train FZ/FT; ``scratch``
    re-initialises every parameter first."""
    clock = time.perf_counter()
    ev = evaluate_chain(chain, donors, target, seed=seed)
    untouched = reset_all(ev.net) if scratch else 0
    info = donors[chain[0].model].info
    history = train_network(
        ev.net, target.inputs(info, "fit"), target.label_tensor("fit"),
        (target.inputs(info, "validation"), target.labels["validation"]),
        mode=mode, epochs=hyper.epochs, lr=hyper.lr, weight_decay=hyper.weight_decay, seed=seed,
    )  # fmt: skip
    kept = next(h for h in history if h["kept"])
    held = heldout_of(ev.net, donors, chain, target) if with_heldout else math.nan
    return Trained(
        name or short(chain), "scratch" if scratch else mode, ev.params, ev.flops, ev.validation_accuracy,
        kept["validation_accuracy"], held, kept["epoch"], time.perf_counter() - clock,
        [h["validation_accuracy"] for h in history], untouched,
    )  # fmt: skip


def from_search(ev: Any, name: str) -> Trained:
    """A finalist or zoo model the search trained FZ and measured on held-out data."""
    kept = next((h for h in ev.history if h.get("kept")), {"epoch": 0})
    return Trained(
        name, "frozen", ev.params, ev.flops, ev.validation_accuracy, ev.final_validation_accuracy(),
        ev.heldout_accuracy, kept["epoch"], 0.0, [h["validation_accuracy"] for h in ev.history],
    )  # fmt: skip


# ----------------------------------------------------------------------------------- statistics


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall τ-b (ties counted as in scipy.stats.kendalltau); −inf sorts lowest, NaN if degenerate."""
    fx = [v if not math.isnan(v) else -math.inf for v in x]
    concordant = ties_x = ties_y = pairs = 0
    for i, j in itertools.combinations(range(len(fx)), 2):
        dx = (fx[i] > fx[j]) - (fx[i] < fx[j])
        dy = (y[i] > y[j]) - (y[i] < y[j])
        pairs += 1
        ties_x += dx == 0
        ties_y += dy == 0
        concordant += dx * dy
    denominator = math.sqrt((pairs - ties_x) * (pairs - ties_y))
    return concordant / denominator if denominator else math.nan


def proxy_values(record: Mapping[str, Any]) -> dict[str, float]:
    """The pool record's proxies as numbers (a degenerate NASWOT is −inf)."""
    scores = record["proxy_scores"]

    def nas(d: Mapping[str, Any] | None) -> float:
        return float(d["value"]) if d and d.get("finite") and d.get("value") is not None else -math.inf

    return {
        "naswot_init": nas(scores.get("naswot")),
        "naswot_fitted": nas(scores.get("naswot_fitted")),
        "logme": float(scores["logme"]),
        "closed_form_val": float(scores["validation_accuracy"]),
        "params": float(record["built_params"]),
        "flops": float(record["built_flops"]),
    }


def ranking(pool: Sequence[Mapping[str, Any]], proxy: str) -> list[int]:
    """Pool indices best-first by a choice proxy, ties to the earlier draw (as ``search``)."""
    key = {"validation": "closed_form_val", "naswot": "naswot_init", "logme": "logme"}[proxy]
    values = [proxy_values(r)[key] for r in pool]
    return sorted(range(len(pool)), key=lambda i: (-values[i], i))


def mean_std(values: Sequence[float], scale: float = 100.0, digits: int = 1) -> str:
    """``m ± s`` in points (sample std; ± 0 for one value); ``—`` for none."""
    vals = [v * scale for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return "—"
    spread = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return f"{statistics.mean(vals):+.{digits}f} ± {spread:.{digits}f}".lstrip("+")


# ------------------------------------------------------------------------------------ the sweep


def sweep_cell(
    nets: Sequence[Sequence[BlockRef]],
    donors: Mapping[str, Donor],
    target: TargetData,
    mode: Mode,
    hyper: Hyper,
) -> dict[str, Any]:
    """Mean validation accuracy (kept epoch) of ``nets`` trained in ``mode`` with ``hyper``."""
    clock = time.perf_counter()
    runs = [trained(c, donors, target, 0, mode, hyper, with_heldout=False) for c in nets]
    return {
        "mean_validation": statistics.mean(r.validation for r in runs),
        "per_net": [r.validation for r in runs],
        "kept_epochs": [r.kept_epoch for r in runs],
        "seconds": time.perf_counter() - clock,
    }


def sweep(
    donors: Mapping[str, Donor],
    cuts: Mapping[str, Sequence[tuple[int, int]]],
    target: TargetData,
    budget: Budget,
    settings: Settings,
) -> tuple[Hyper, Hyper, list[dict[str, Any]]]:
    """FZ and FT hyper-parameters chosen by mean validation accuracy on a few seed-0 networks (seeded
    random pool chains + one seeded random zoo model), coordinate-wise to stay cheap: epochs × lr at
    the first weight decay for both modes, then the other weight decays at each mode's best.
    Ties go to fewer epochs, then to the earlier row."""
    rng = np.random.default_rng(0)
    pool = draw_pool(cuts, donors, NUM_CLASSES, budget, SearchConfig(pool_size=200, seed=0))
    picks = [chain_of(pool[i]) for i in rng.choice(len(pool), settings.sweep_chains, replace=False)]
    zoo = sorted(d.key for d in zoo_that_fits(donors, NUM_CLASSES, budget))
    nets = [*picks, donors[zoo[int(rng.integers(len(zoo)))]].whole()]
    log(f"sweep on: {'; '.join(short(c) for c in nets)}")
    rows: dict[Hyper, dict[str, Any]] = {}
    modes: tuple[Mode, Mode] = ("frozen", "finetune")

    def run(hyper: Hyper, mode: Mode) -> None:
        rows.setdefault(hyper, {})[mode] = sweep_cell(nets, donors, target, mode, hyper)
        log(f"sweep: {mode} {hyper} → mean validation {rows[hyper][mode]['mean_validation']:.3f}")

    def best(mode: str) -> Hyper:
        done = [h for h in rows if mode in rows[h]]
        return max(done, key=lambda h: (rows[h][mode]["mean_validation"], -h.epochs, -done.index(h)))

    for epochs, lr in itertools.product(settings.sweep_epochs, settings.sweep_lrs):
        for mode in modes:
            run(Hyper(epochs, lr, settings.sweep_wds[0]), mode)
    for mode in modes:
        top = best(mode)
        for wd in settings.sweep_wds[1:]:
            run(Hyper(top.epochs, top.lr, wd), mode)
    table = [{**asdict(h), **cells} for h, cells in rows.items()]
    return best("frozen"), best("finetune"), table


# ------------------------------------------------------------------------------- one budget/seed


@dataclass
class SeedCache:
    """Per-seed results that do not depend on the budget (same chain, seed and data → same numbers)."""

    fz: dict[tuple[str, ...], Trained] = field(default_factory=dict)
    zoo: dict[str, dict[str, Trained]] = field(default_factory=dict)


def tau_subset(pool: Sequence[Mapping[str, Any]], size: int, seed: int) -> list[int]:
    """A seeded random subset of the pool: the ``size`` chains of highest pseudo-random priority
    (a hash of seed and chain), so that budgets of one seed share the chains their pools share."""

    def priority(i: int) -> str:
        return hashlib.sha256(f"{seed}:{' '.join(pool[i]['block_ids'])}".encode()).hexdigest()

    return sorted(sorted(range(len(pool)), key=priority)[:size])


def choose(pool: Sequence[Mapping[str, Any]], proxy: str, fz: Mapping[tuple[str, ...], Trained]) -> int:
    """The search's choice for ``proxy``: best FZ validation among its top-3 (ties: better proxy)."""
    top = ranking(pool, proxy)[:3]
    return max(top, key=lambda i: (fz[tuple(pool[i]["block_ids"])].validation, -top.index(i)))


def search_progress(tag: str) -> Callable[..., None]:
    """Log the search's stages, and every 50th scored chain."""

    def progress(fraction: float, message: str = "") -> None:
        if message.startswith("epoch"):
            return
        if message.startswith("scored chain"):
            done, total = message.split()[-1].split("/")
            if int(done) % 50 and done != total:
                return
        log(f"{tag}: search {fraction:.0%} {message}")

    return progress


def train_pool_chains(
    pool: Sequence[Mapping[str, Any]], indices: Iterable[int], donors: Mapping[str, Donor],
    target: TargetData, seed: int, hyper: Hyper, cache: SeedCache, tag: str,
) -> None:  # fmt: skip
    """FZ-train the given pool chains that this seed has not trained yet."""
    todo = [i for i in dict.fromkeys(indices) if tuple(pool[i]["block_ids"]) not in cache.fz]
    for n, i in enumerate(todo):
        ids = tuple(pool[i]["block_ids"])
        cache.fz[ids] = trained(chain_from_ids(ids), donors, target, seed, "frozen", hyper)
        if (n + 1) % 10 == 0 or n + 1 == len(todo):
            log(f"{tag}: FZ-trained {n + 1}/{len(todo)} pool chains not trained before")


def measure_zoo(
    outcome: Outcome, donors: Mapping[str, Donor], target: TargetData, seed: int, hyper_ft: Hyper,
    cache: SeedCache,
) -> dict[str, dict[str, Trained]]:  # fmt: skip
    """Closed form (cached), FZ (the search's baseline run) and FT (cached) of every fitting zoo model."""
    out = {}
    for ev in outcome.zoo:
        key = ev.chain[0].model
        if key not in cache.zoo:
            cache.zoo[key] = {
                "closed_form": closed_form(ev.chain, donors, target, seed, key),
                "finetune": trained(ev.chain, donors, target, seed, "finetune", hyper_ft, name=key),
            }
        out[key] = {**cache.zoo[key], "frozen": from_search(ev, key)}
    return out


def run_case(
    donors: Mapping[str, Donor],
    cuts: Mapping[str, Sequence[tuple[int, int]]],
    target: TargetData,
    spec: Budgeted,
    seed: int,
    hypers: tuple[Hyper, Hyper],
    args: argparse.Namespace,
    cache: SeedCache,
) -> dict[str, Any]:
    """Everything measured for one budget and seed (see the module doc)."""
    hyper_fz, hyper_ft = hypers
    tag = f"budget ({spec.label}) seed {seed}"
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    config = SearchConfig(
        proxy="validation", pool_size=args.pool, finalists=3, seed=seed, score_naswot=True,
        training=TrainingConfig("frozen", hyper_fz.epochs, hyper_fz.lr, hyper_fz.weight_decay),
    )  # fmt: skip
    outcome = search(cuts, donors, target, spec.budget, config, progress=search_progress(tag))
    seconds["search"] = time.perf_counter() - clock
    seconds.update({f"search_{k}": v for k, v in outcome.seconds.items()})
    pool = outcome.pool
    for ev in outcome.finalists:
        cache.fz.setdefault(ids_of(ev.chain), from_search(ev, short(ev.chain)))

    tau_idx = tau_subset(pool, args.tau_chains, seed)
    clock = time.perf_counter()
    tops = [i for p in CHOICE_PROXIES for i in ranking(pool, p)[:3]]
    train_pool_chains(pool, [*tau_idx, *tops], donors, target, seed, hyper_fz, cache, tag)
    seconds["fz_pool_chains"] = time.perf_counter() - clock

    def fz_of(i: int) -> Trained:
        return cache.fz[tuple(pool[i]["block_ids"])]

    held = [fz_of(i).heldout for i in tau_idx]
    values = [proxy_values(pool[i]) for i in tau_idx]
    tau = {p: kendall_tau([v[p] for v in values], held) for p in PROXIES}
    tau["fz_validation"] = kendall_tau([fz_of(i).validation for i in tau_idx], held)
    choices = {p: choose(pool, p, cache.fz) for p in CHOICE_PROXIES}
    chosen = outcome.network.chain
    if list(ids_of(chosen)) != pool[choices["validation"]]["block_ids"]:
        raise AssertionError(f"{tag}: the replayed validation choice differs from the search's")
    oracle = max(tau_idx, key=lambda i: fz_of(i).heldout)

    clock = time.perf_counter()
    top1 = chain_from_ids(pool[ranking(pool, "validation")[0]]["block_ids"])
    reassembly = {
        "closed_form": closed_form(top1, donors, target, seed),
        "frozen": cache.fz[ids_of(chosen)],
        "finetune": trained(chosen, donors, target, seed, "finetune", hyper_ft),
        "scratch": trained(chosen, donors, target, seed, "finetune", hyper_ft, scratch=True),
    }
    seconds["reassembly_ft_scratch"] = time.perf_counter() - clock
    log(
        f"{tag}: chose {short(chosen)}: held-out FZ {reassembly['frozen'].heldout:.3f}, "
        f"FT {reassembly['finetune'].heldout:.3f}, scratch {reassembly['scratch'].heldout:.3f}"
    )
    clock = time.perf_counter()
    zoo = measure_zoo(outcome, donors, target, seed, hyper_ft, cache)
    seconds["zoo_cf_ft"] = time.perf_counter() - clock
    best_zoo = {
        m: max(zoo, key=lambda k, m=m: zoo[k][m].validation) if zoo else None  # type: ignore[misc]
        for m in ("closed_form", "frozen", "finetune")
    }
    if zoo and (outcome.baseline is None or outcome.baseline.chain[0].model != best_zoo["frozen"]):
        raise AssertionError(f"{tag}: the search's baseline is not the best zoo model on validation")
    log(
        f"{tag}: zoo that fits: "
        + ", ".join(
            f"{k} FZ {v['frozen'].heldout:.3f} FT {v['finetune'].heldout:.3f}" for k, v in zoo.items()
        )
    )
    return {
        "budget": spec.label,
        "seed": seed,
        "target_sizes": target.sizes(),
        "pool_size": len(pool),
        "pool": pool,
        "tau_pool_indices": tau_idx,
        "tau_chains": [asdict(fz_of(i)) for i in tau_idx],
        "tau": tau,
        "choices": {p: {"pool_index": i, **asdict(fz_of(i))} for p, i in choices.items()},
        "oracle_tau_chain": {"pool_index": oracle, **asdict(fz_of(oracle))},
        "reassembly": {m: asdict(t) for m, t in reassembly.items()},
        "chosen_block_ids": list(ids_of(chosen)),
        "zoo": {k: {m: asdict(t) for m, t in v.items()} for k, v in zoo.items()},
        "best_zoo": best_zoo,
        "recommendation": outcome.recommendation,
        "search_gain_fz_points": outcome.gain,
        "seconds": seconds,
    }


# ------------------------------------------------------------------------------------- reporting

ROWS = (
    ("best zoo model, closed form", "zoo", "closed_form", None),
    ("best zoo model, FZ", "zoo", "frozen", None),
    ("best zoo model, FT", "zoo", "finetune", None),
    ("reassembly, closed form (no training)", "re", "closed_form", "closed_form"),
    ("reassembly, FZ (the service's choice)", "re", "frozen", "frozen"),
    ("reassembly, FT (same chain)", "re", "finetune", "finetune"),
    ("reassembled arch. from scratch (FT)", "re", "scratch", "finetune"),
)


def row_values(case: Mapping[str, Any], kind: str, mode: str) -> dict[str, Any] | None:
    """The measured network of a table row in one case (the best zoo model on validation)."""
    if kind == "re":
        return case["reassembly"][mode]
    best = case["best_zoo"][mode]
    return case["zoo"][best][mode] if best else None


def budget_table(cases: Sequence[Mapping[str, Any]]) -> list[str]:
    """Rows = training modes of the best zoo model and of the reassembly; mean ± std over seeds."""
    lines = [
        "| network | params | MFLOPs | validation % | held-out % | gain vs best zoo (same mode), points |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, kind, mode, versus in ROWS:
        got = [row_values(c, kind, mode) for c in cases]
        got_ok = [g for g in got if g]
        if not got_ok:
            lines.append(f"| {label} | — | — | — | — | — |")
            continue
        gains = []
        for c, g in zip(cases, got, strict=True):
            base = row_values(c, "zoo", versus) if versus else None
            if g and base:
                gains.append(g["heldout"] - base["heldout"])
        names = ""
        if kind == "zoo":
            counts = {
                n: sum(g["name"] == n for g in got_ok) for n in dict.fromkeys(g["name"] for g in got_ok)
            }
            names = " (" + ", ".join(f"{n.split('_')[0]} ×{k}" for n, k in counts.items()) + ")"
        lines.append(
            f"| {label}{names} | {statistics.mean(g['params'] for g in got_ok):,.0f} "
            f"| {statistics.mean(g['flops'] for g in got_ok) / 1e6:.2f} "
            f"| {mean_std([g['validation'] for g in got_ok])} | {mean_std([g['heldout'] for g in got_ok])} "
            f"| {mean_std(gains) if versus else '—'} |"
        )
    return lines


def zoo_table(cases: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every zoo model that fits: held-out accuracy per mode."""
    lines = [
        "| zoo model (whole, new head) | params | closed form % | FZ % | FT % |",
        "|---|---:|---:|---:|---:|",
    ]
    for key in cases[0]["zoo"]:
        per = [c["zoo"][key] for c in cases]
        cells = " | ".join(
            mean_std([p[m]["heldout"] for p in per]) for m in ("closed_form", "frozen", "finetune")
        )
        lines.append(f"| {key} | {per[0]['frozen']['params']:,} | {cells} |")
    return lines


def choice_table(by_budget: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[str]:
    """The final FZ choice when the top-3 come from each proxy, and the τ subset's held-out oracle."""
    lines = [
        "| budget | ranking proxy (top-3 → FZ → best validation) | held-out FZ % "
        "| gain vs best zoo FZ, points | same chain as validation's |",
        "|---|---|---:|---:|---:|",
    ]
    for label, cases in by_budget.items():
        for p in (*CHOICE_PROXIES, "oracle"):
            picks = [c["oracle_tau_chain"] if p == "oracle" else c["choices"][p] for c in cases]
            gains = [
                pk["heldout"] - c["zoo"][c["best_zoo"]["frozen"]]["frozen"]["heldout"]
                for pk, c in zip(picks, cases, strict=True)
                if c["best_zoo"]["frozen"]
            ]
            same = sum(
                pk["pool_index"] == c["choices"]["validation"]["pool_index"]
                for pk, c in zip(picks, cases, strict=True)
            )
            name = "oracle: best held-out of the τ chains (not a valid selection)" if p == "oracle" else p
            held = mean_std([pk["heldout"] for pk in picks])
            lines.append(f"| ({label}) | {name} | {held} | {mean_std(gains)} | {same}/{len(cases)} |")
    return lines


def tau_table(by_budget: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[str]:
    """Kendall τ of each proxy against FZ held-out accuracy, per budget & seed, and the means."""
    cols = [(label, c) for label, cases in by_budget.items() for c in cases]
    head = " | ".join(f"({label}) s{c['seed']}" for label, c in cols)
    lines = [
        f"| proxy | {head} | " + " | ".join(f"({b}) mean" for b in by_budget) + " | mean |",
        "|---|" + "---:|" * (len(cols) + len(by_budget) + 1),
    ]
    for p in (*PROXIES, "fz_validation"):
        cells = [f"{c['tau'][p]:+.2f}" for _, c in cols]
        means = [mean_std([c["tau"][p] for c in cases], 1.0, 2) for cases in by_budget.values()]
        overall = statistics.mean(c["tau"][p] for _, c in cols if not math.isnan(c["tau"][p]))
        name = "FZ validation (reference)" if p == "fz_validation" else p
        lines.append(f"| {name} | " + " | ".join(cells + means) + f" | {overall:+.2f} |")
    n = [len(c["tau_pool_indices"]) for _, c in cols]
    lines.append(
        f"\nτ over {min(n)}–{max(n)} FZ-trained chains per budget & seed "
        "(a seeded random subset of the pool)."
    )
    return lines


def sweep_table(rows: Sequence[Mapping[str, Any]], fz: Hyper, ft: Hyper) -> list[str]:
    lines = [
        "| epochs | lr | weight decay | FZ mean val % | FT mean val % | seconds |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        hyper = Hyper(r["epochs"], r["lr"], r["weight_decay"])
        cells = []
        for mode, chosen, tag in (("frozen", fz, "FZ"), ("finetune", ft, "FT")):
            cell = f"{100 * r[mode]['mean_validation']:.1f}" if mode in r else "—"
            cells.append(cell + (f" **← {tag}**" if hyper == chosen else ""))
        seconds = sum(r[m]["seconds"] for m in ("frozen", "finetune") if m in r)
        hyper_cells = f"| {r['epochs']} | {r['lr']:g} | {r['weight_decay']:g} |"
        lines.append(f"{hyper_cells} {cells[0]} | {cells[1]} | {seconds:.0f} |")
    return lines


def timing_table(report: Mapping[str, Any]) -> list[str]:
    lines = ["| stage | seconds |", "|---|---:|"]
    for name, value in report["seconds"].items():
        lines.append(f"| {name} | {value:.0f} |")
    for c in report["cases"]:
        s = c["seconds"]
        lines.append(
            f"| ({c['budget']}) seed {c['seed']}: pool of {c['pool_size']} scored "
            f"{s['search_score_pool']:.0f}, finalists {s['search_finalists']:.0f}, zoo FZ "
            f"{s['search_baseline']:.0f}, τ chains FZ {s['fz_pool_chains']:.0f}, FT+scratch "
            f"{s['reassembly_ft_scratch']:.0f}, zoo CF+FT {s['zoo_cf_ft']:.0f} "
            f"| {sum(v for k, v in s.items() if not k.startswith('search_')):.0f} |"
        )
    lines.append(f"| **total wall time** | **{report['total_seconds']:.0f}** |")
    return lines


def markdown(report: Mapping[str, Any]) -> str:
    """All tables of the run."""
    by_budget: dict[str, list[Mapping[str, Any]]] = {}
    for c in report["cases"]:
        by_budget.setdefault(c["budget"], []).append(c)
    fz, ft = Hyper(**report["hyper"]["frozen"]), Hyper(**report["hyper"]["finetune"])
    out = [
        f"# DeRy on the fashion zoo — {TRANSFER_TASK}, few-shot",
        "",
        f"Command: `{report['command']}`. Target: {report['target_sizes']} per seed; seeds "
        f"{report['seeds']}. Partition: K={K}, ε={report['partition']['epsilon']}, cuts {report['cuts']}.",
        f"FZ: {fz}; FT: {ft} (chosen on validation, below). 'scratch' = random init of all parameters "
        "of the reassembled architecture, then FT with the FT settings.",
        "",
    ]
    for b in report["budgets"]:
        cases = by_budget.get(b["label"], [])
        if not cases:
            continue
        bounds = f"max_params = {b['max_params']:,}" + (
            f", min_params = {b['min_params']:,}" if b["min_params"] else ""
        )
        out += [f"## Budget ({b['label']}): {bounds} ({b['note']})", ""]
        out += budget_table(cases) + [""]
        chains = "; ".join(f"s{c['seed']}: {c['reassembly']['frozen']['name']}" for c in cases)
        recs = ", ".join(f"s{c['seed']} {c['recommendation']}" for c in cases)
        kept = ", ".join(f"{c['reassembly']['scratch']['not_reset']:,}" for c in cases)
        sizes = [c["pool_size"] for c in cases]
        out += [
            f"Chosen chains: {chains}. Pool sizes: {sizes}. Service recommendation (on validation): {recs}. "
            f"Scratch: parameter values that `reset_parameters` left untouched, per seed: {kept}.",
            "",
        ]
        out += zoo_table(cases) + [""]
    out += ["## Final choice by ranking proxy", ""] + choice_table(by_budget) + [""]
    out += ["## Kendall τ of each proxy vs FZ held-out accuracy", ""] + tau_table(by_budget) + [""]
    out += ["## Hyper-parameter sweep (seed 0, budget (a), validation only)", ""]
    out += [f"Networks: {report['sweep_networks']}", ""] + sweep_table(report["sweep"], fz, ft) + [""]
    out += ["## Timing", ""] + timing_table(report) + [""]
    return "\n".join(out)


def plot_budget(ax: Any, budget: Mapping[str, Any], cases: Sequence[Mapping[str, Any]]) -> None:
    """One panel: zoo models (dots), reassembly FZ/FT (stars), scratch (triangle); ± std over seeds."""
    styles = {"frozen": ("tab:blue", "FZ", 7, 16), "finetune": ("tab:orange", "FT", 4, 10)}
    for mode, (color, tag, dot, star) in styles.items():
        for n, key in enumerate(cases[0]["zoo"]):
            x = cases[0]["zoo"][key][mode]["params"] / 1e3
            acc = [100 * c["zoo"][key][mode]["heldout"] for c in cases]
            label = f"zoo model {tag}" if n == 0 else None
            ax.errorbar(
                x, np.mean(acc), yerr=np.std(acc), fmt="o", color=color, ms=dot, capsize=2, label=label
            )
            if mode == "frozen":
                ax.annotate(
                    key.split("_")[0],
                    (x, np.mean(acc)),
                    fontsize=7,
                    xytext=(4, 4),
                    textcoords="offset points",
                )
        params = [c["reassembly"][mode]["params"] / 1e3 for c in cases]
        acc = [100 * c["reassembly"][mode]["heldout"] for c in cases]
        ax.errorbar(
            np.mean(params), np.mean(acc), xerr=np.std(params), yerr=np.std(acc), fmt="*", ms=star,
            color=color, mec="black", capsize=3, label=f"reassembly {tag}",
        )  # fmt: skip
    params = [c["reassembly"]["scratch"]["params"] / 1e3 for c in cases]
    acc = [100 * c["reassembly"]["scratch"]["heldout"] for c in cases]
    ax.errorbar(np.mean(params), np.mean(acc), yerr=np.std(acc), fmt="^", color="gray", ms=7, capsize=2,
                label="reassembled arch. from scratch")  # fmt: skip
    ax.axvline(budget["max_params"] / 1e3, ls="--", color="black", lw=0.8)
    if budget["min_params"]:
        ax.axvline(budget["min_params"] / 1e3, ls=":", color="black", lw=0.8)
    bounds = f"{budget['min_params'] / 1e3:.0f} k ≤ " if budget["min_params"] else ""
    ax.set_title(
        f"budget ({budget['label']}): {bounds}params ≤ {budget['max_params'] / 1e3:.0f} k", fontsize=10
    )
    ax.set_xlabel("params (k)")
    ax.set_ylabel("held-out accuracy (%)")
    ax.grid(alpha=0.3)


def plot(report: Mapping[str, Any], path: Path) -> None:
    """Held-out accuracy vs params, one panel per budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budgets = [b for b in report["budgets"] if any(c["budget"] == b["label"] for c in report["cases"])]
    fig, axes = plt.subplots(1, len(budgets), figsize=(5.2 * len(budgets), 4.4), squeeze=False)
    for ax, b in zip(axes[0], budgets, strict=True):
        plot_budget(ax, b, [c for c in report["cases"] if c["budget"] == b["label"]])
    axes[0][0].legend(fontsize=7, loc="best")
    fig.suptitle(f"{TRANSFER_TASK}, few-shot: mean ± std over {len(report['seeds'])} seed(s)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ------------------------------------------------------------------------------------------ main


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--npz", default=str(ROOT.parent / "shared" / "datasets" / "fashion_mnist.npz"))
    ap.add_argument("--out", default="var/bench", help="output folder (the zoo is cached there)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--pool", type=int, default=200, help="pool size of the search")
    ap.add_argument("--tau-chains", type=int, default=30, help="pool chains FZ-trained for Kendall τ")
    ap.add_argument("--budgets", default="abc", help="which budgets to run (letters)")
    ap.add_argument("--quick", action="store_true", help="tiny settings: a smoke run in under 2 minutes")
    ap.add_argument("--no-sweep", action="store_true", help="use the core training defaults, no sweep")
    return ap.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    settings = QUICK if args.quick else FULL
    if args.quick:
        args.seeds, args.pool, args.tau_chains = (
            min(args.seeds, 1),
            min(args.pool, 12),
            min(args.tau_chains, 4),
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    images, labels = load_npz(args.npz)
    train, test = split_parts(labels)
    log(f"data: train part {len(train):,}, test part {len(test):,} (seeded stratified split, seed 0)")
    seconds["zoo training"] = ensure_zoo(images[train], labels[train], out / settings.zoo_dir, settings.zoo)
    donors = load_donors(out / settings.zoo_dir)
    costs = whole_params(donors)
    log("zoo (whole, new 10-class head): " + ", ".join(f"{k} {p:,} params" for k, (p, _) in costs.items()))

    clock = time.perf_counter()
    probe = images[np.random.default_rng(0).choice(train, settings.probe_images, replace=False)]
    cuts, part = dery_cuts(donors, probe)
    seconds["sketches + partition"] = time.perf_counter() - clock
    log(f"partition: ε={part['epsilon']}, J={part['objective']:.3f}, cuts {cuts}")
    budgets = [b for b in make_budgets(costs) if b.label in args.budgets]
    for b in budgets:
        fits = [d.key for d in zoo_that_fits(donors, NUM_CLASSES, b.budget)]
        log(
            f"budget ({b.label}): {b.budget.max_params:,} ≥ params ≥ {b.budget.min_params or 0:,} "
            f"({b.note}); zoo that fits: {fits}"
        )

    seeds = list(range(args.seeds))
    targets = {s: make_target(images, labels, test, settings, s) for s in seeds}
    log(f"target sizes: {targets[0].sizes()}")
    clock = time.perf_counter()
    sweep_rows: list[dict[str, Any]] = []
    if args.no_sweep:
        hyper_fz, hyper_ft = Hyper(), Hyper()
    else:
        hyper_fz, hyper_ft, sweep_rows = sweep(
            donors, cuts, targets[0], make_budgets(costs)[0].budget, settings
        )
    seconds["hyper-parameter sweep"] = time.perf_counter() - clock
    log(f"chosen on validation: FZ {hyper_fz}, FT {hyper_ft}")

    report: dict[str, Any] = {
        "command": " ".join(["python", *sys.argv]),
        "settings": asdict(settings),
        "data": {
            "npz": args.npz,
            "train_part": len(train),
            "test_part": len(test),
            "split": "stratified, seed 0",
        },
        "target_sizes": targets[0].sizes(),
        "seeds": seeds,
        "zoo_costs": {k: {"params": p, "flops": f} for k, (p, f) in costs.items()},
        "partition": part,
        "cuts": {k: [list(c) for c in v] for k, v in cuts.items()},
        "budgets": [{"label": b.label, "note": b.note, **asdict(b.budget)} for b in budgets],
        "sweep_networks": f"{settings.sweep_chains} seeded random pool chain(s) + 1 seeded random zoo model "
        "(seed 0, budget (a))",
        "sweep": sweep_rows,
        "hyper": {"frozen": asdict(hyper_fz), "finetune": asdict(hyper_ft)},
        "cases": [],
        "seconds": seconds,
    }
    suffix = "_quick" if args.quick else ""
    for seed in seeds:
        cache = SeedCache()
        for b in budgets:
            clock = time.perf_counter()
            log(f"budget ({b.label}) seed {seed}: start")
            case = run_case(donors, cuts, targets[seed], b, seed, (hyper_fz, hyper_ft), args, cache)
            report["cases"].append(case)
            log(f"budget ({b.label}) seed {seed}: done in {time.perf_counter() - clock:.0f} s")
            report["total_seconds"] = time.perf_counter() - START
            (out / f"dery_fashion{suffix}.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    report["total_seconds"] = time.perf_counter() - START
    (out / f"dery_fashion{suffix}.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    text = markdown(report)
    (out / f"dery_fashion{suffix}.md").write_text(text + "\n")
    plot(report, out / "dery_fashion_quick.png" if args.quick else ROOT / "docs" / "dery_fashion.png")
    print(text)
    log("done")


if __name__ == "__main__":
    main()
