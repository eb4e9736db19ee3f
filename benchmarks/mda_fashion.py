"""Model LEGO (MDA) on Fashion-MNIST: the analogue of the paper's two tables (issue 14, item 5).

Per seed, the zoo tooling trains three small architectures (``vgg_mda``, ``resnet_mda``,
``googlenet_mda``) three times each on the seed's stratified train split: on all 10 classes (for the
disassembling table) and on the disjoint halves A = classes 0–4 and B = 5–9 (for the assembling
table). The held-out 15 % is cut in half, stratified: *validation* (parameter scaling only) and
*test* (every reported accuracy).

1. Disassembling: for each class subset, ``make_component`` on the 10-class model (samples: the
   most confident 1 % of a pool of 1,000 train images per class, at least 10) → Base (the
   model on the subset's test images, argmax over all its outputs, the paper's "Base"), Base
   restricted (argmax over the subset's logits only), Disa. (the component), params and FLOPs.
2. Assembling: a component of model A and one of model B → ``compose`` → Score1 without and with
   parameter scaling, Score2 after one epoch of fine-tuning on train images of the union. Base =
   the class-count-weighted mean of the two source models' Base on their parts (the paper's rule).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mda_fashion.py [--seeds 0 1 2] [--out var/mda]
        [--train-images 6000] [--epochs 3] [--write-results]

Writes ``<out>/mda_fashion.json`` (raw numbers, after every seed) and ``<out>/mda_fashion.md``;
``--write-results`` also replaces the "Model LEGO (MDA) on Fashion-MNIST" section of docs/results.md.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.errors import InvalidInput
from core.mda.entry import compose, make_component
from core.mda.request import ComponentRequest, CompositionRequest, ThresholdsIn
from core.zoo.data import load_npz, prepare, stratified_split
from core.zoo.train import HOLDOUT_FRACTION, ZooRecipe, load_zoo_model, read_zoo, train_zoo

ROOT = Path(__file__).resolve().parents[1]
ARCHS = ("vgg_mda", "resnet_mda", "googlenet_mda")
SUBSETS: tuple[tuple[int, ...], ...] = ((0,), (1,), (0, 1, 2), (3, 4, 5, 6, 7, 8, 9), (2, 4, 6))
A_CLASSES, B_CLASSES = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)
ASSEMBLIES: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = (
    ((0,), (5,)),
    ((0, 1, 2), (5, 6, 7)),
    ((1, 3), (6, 8, 9)),
    (A_CLASSES, B_CLASSES),
)
SECTION = "## Model LEGO (MDA) on Fashion-MNIST"
SWEEP_SUBSETS: tuple[tuple[int, ...], ...] = ((0, 1, 2), (3, 4, 5, 6, 7, 8, 9), (2, 4, 6))
SWEEP_SCALES = (1.0, 0.5, 0.0)  # all four thresholds times this
BEGIN, END = (
    "<!-- mda_fashion tables: written by benchmarks/mda_fashion.py -->",
    "<!-- /mda_fashion tables -->",
)
FAILED_ASSEMBLY = re.compile(r"^(\w+) (\([\d, ]+\))\+(\([\d, ]+\)): ")


def _asse_order() -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
    return [(arch, a, b) for arch in ARCHS for a, b in ASSEMBLIES]


POOL_PER_CLASS = 1000


def data_for_seed(images: np.ndarray, labels: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """The zoo's split for ``seed`` (train / held-out), held-out cut into validation and test."""
    train, held = stratified_split(labels, HOLDOUT_FRACTION, seed)
    rng = np.random.default_rng(seed + 100)
    val, test = [], []
    for c in np.unique(labels):
        mine = rng.permutation(held[labels[held] == c])
        val.append(mine[: len(mine) // 2])
        test.append(mine[len(mine) // 2 :])
    pool = np.concatenate(
        [rng.permutation(train[labels[train] == c])[:POOL_PER_CLASS] for c in np.unique(labels)]
    )
    return {"train": train, "val": np.concatenate(val), "test": np.concatenate(test), "pool": pool}


def run_seed(
    npz: Path, out: Path, seed: int, args: argparse.Namespace, only: set[Any] | None = None
) -> dict[str, Any]:
    """One seed's rows; ``only`` restricts it to those (arch, A part, B part) assemblies."""
    images, labels = load_npz(npz)
    split = data_for_seed(images, labels, seed)
    recipes = []
    for k, arch in enumerate(ARCHS):
        recipes += [
            ZooRecipe(f"{arch}_all", arch, seed_offset=3 * k),
            ZooRecipe(f"{arch}_A", arch, classes=A_CLASSES, seed_offset=3 * k + 1),
            ZooRecipe(f"{arch}_B", arch, classes=B_CLASSES, seed_offset=3 * k + 2),
        ]
    zoo_dir = out / f"zoo_seed{seed}"
    start = time.perf_counter()
    reuse = args.reuse_zoo and (zoo_dir / "zoo.json").exists()
    entries = (
        {e.name: e for e in read_zoo(zoo_dir / "zoo.json")}
        if reuse
        else {
            e.name: e
            for e in train_zoo(
                npz,
                zoo_dir,
                recipes=recipes,
                seed=seed,
                epochs=args.epochs,
                max_train_images=args.train_images,
                max_eval_images=500,
                threads=1,
            )
        }
    )
    train_seconds = time.perf_counter() - start
    e0 = next(iter(entries.values()))

    def tensors(idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return prepare(images[idx], e0.input_size, e0.mean, e0.std), torch.from_numpy(labels[idx]).long()

    x_pool, y_pool = tensors(split["pool"])
    x_val, y_val = tensors(split["val"])
    x_test, y_test = tensors(split["test"])
    tune = np.random.default_rng(seed).permutation(split["train"])[: args.finetune_images]
    x_tune, y_tune = tensors(tune)
    result: dict[str, Any] = {
        "seed": seed,
        "train_seconds": round(train_seconds, 1),
        "models": {},
        "disa": [],
        "asse": [],
        "errors": [],
        "sweep": [],
    }
    for name, e in entries.items():
        result["models"][name] = {"accuracy": e.accuracy, "params": e.params, "classes": list(e.classes)}

    def component(
        arch: str, part: str, subset: tuple[int, ...], thresholds: ThresholdsIn | None = None
    ) -> Any:
        e = entries[f"{arch}_{part}"]
        model = load_zoo_model(e, zoo_dir / e.weights_file)
        lookup = {c: i for i, c in enumerate(e.classes)}
        keep_pool = np.isin(y_pool.numpy(), subset)  # selection only looks at the subset's images
        keep_test = np.isin(y_test.numpy(), e.classes)
        local = lambda y: torch.tensor([lookup[int(v)] for v in y])  # noqa: E731
        req = ComponentRequest(
            classes=[lookup[c] for c in subset],
            class_labels=list(subset),
            arch=e.arch,
            arch_kwargs={"num_classes": e.num_classes, "in_chans": e.input_size[0], **e.kwargs},
            input_size=e.input_size,
            seed=seed,
            thresholds=thresholds or ThresholdsIn(),
        )
        return make_component(
            model,
            x_pool[keep_pool],
            local(y_pool[keep_pool]),
            req,
            eval_images=x_test[keep_test],
            eval_labels=local(y_test[keep_test]),
        )

    if args.sweep:
        for arch in ARCHS:
            for subset in SWEEP_SUBSETS:
                for scale in SWEEP_SCALES:
                    t = ThresholdsIn(**{k: v * scale for k, v in ThresholdsIn().model_dump().items()})
                    r = component(arch, "all", subset, t)
                    row = {"arch": arch, "classes": list(subset), "scale": scale, "base": r.accuracy_base}
                    row |= {"disa": r.accuracy_component, "params": [r.params_before, r.params_after]}
                    result["sweep"].append(row)
                    print(
                        seed, "sweep", arch, subset, scale, r.accuracy_component, r.params_after, flush=True
                    )
        return result
    for arch in ARCHS:
        for subset in SUBSETS if only is None else ():
            try:
                r = component(arch, "all", subset)
            except InvalidInput as exc:  # reported, not fatal: e.g. a class the model never gets right
                result["errors"].append(f"{arch} {subset}: {exc}")
                continue
            result["disa"].append(
                {
                    "arch": arch,
                    "classes": list(subset),
                    "base": r.accuracy_base,
                    "base_restricted": r.accuracy_base_restricted,
                    "disa": r.accuracy_component,
                    "params": [r.params_before, r.params_after],
                    "flops": [r.flops_before, r.flops_after],
                    "samples_per_class": r.samples_per_class,
                    "seconds": r.seconds,
                }
            )
            print(seed, arch, subset, r.accuracy_base, r.accuracy_component, r.params_after, flush=True)
        for a_part, b_part in ASSEMBLIES:
            if only is not None and (arch, a_part, b_part) not in only:
                continue
            try:
                ca, cb = component(arch, "A", a_part), component(arch, "B", b_part)
            except InvalidInput as exc:
                result["errors"].append(f"{arch} {a_part}+{b_part}: {exc}")
                continue
            scaling_error = None
            for scaling in (True, False):
                req = CompositionRequest(
                    parameter_scaling=scaling, finetune_epochs=1, finetune_lr=args.finetune_lr, seed=seed
                )
                try:
                    res = compose(
                        [ca.component, cb.component],
                        x_val,
                        y_val,
                        req,
                        eval_images=x_test,
                        eval_labels=y_test,
                        train_images=x_tune,
                        train_labels=y_tune,
                    )
                    break
                except InvalidInput as exc:  # scaling impossible: keep the unscaled scores, say why
                    scaling_error = str(exc)
            n_a, n_b = len(a_part), len(b_part)
            base = (n_a * ca.accuracy_base + n_b * cb.accuracy_base) / (n_a + n_b)
            result["asse"].append(
                {
                    "arch": arch,
                    "task": [list(a_part), list(b_part)],
                    "base": base,
                    "score1_unscaled": res.score1_unscaled,
                    "score1": None if scaling_error else res.score1,
                    "score2": res.score2,
                    "score2_scaled": scaling_error is None,
                    "scaling_error": scaling_error,
                    "max_abs_diff": res.max_abs_diff,
                    "params": res.params,
                    "flops": res.flops,
                    "components_params": [ca.params_after, cb.params_after],
                    "sources_params": [ca.params_before, cb.params_before],
                }
            )
            print(seed, arch, a_part, b_part, base, res.score1_unscaled, res.score1, res.score2, flush=True)
    return result


def _task(classes: list[int]) -> str:
    if len(classes) > 2 and classes == list(range(classes[0], classes[-1] + 1)):
        return f"{classes[0]}-{classes[-1]}"
    return ",".join(str(c) for c in classes)


def _pm(values: list[float | None]) -> str:
    missing = sum(v is None for v in values)
    text = _pm_known([v for v in values if v is not None]) if missing < len(values) else "—"
    return text + (f" ({missing} of {len(values)} impossible)" if missing else "")


def _pm_known(values: list[float]) -> str:
    pct = [100 * v for v in values]
    if len(pct) == 1:
        return f"{pct[0]:.2f}"
    return f"{statistics.mean(pct):.2f} ± {statistics.stdev(pct):.2f}"


def tables(results: list[dict[str, Any]]) -> str:
    seeds = [r["seed"] for r in results]
    lines = [
        f"Seeds {seeds}; mean ± sample std over seeds, test split (accuracy, %). Params and FLOPs of "
        f"the first seed with the row (FLOPs: torch.utils.flop_counter, multiply-add = 2, one 32×32 image).",
        "",
        "**Disassembling** (10-class models; Base = model on the subset's test images, argmax over all "
        "10 outputs as in the paper; Base|S = argmax over the subset's logits only; Disa. = the component):",
        "",
        "| Arch | Task | Base | Base\\|S | Disa. | Disa. − Base | Params before → after "
        "| FLOPs before → after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for arch, subset in [(a, list(t)) for a in ARCHS for t in SUBSETS]:
        same = [x for r in results for x in r["disa"] if x["arch"] == arch and x["classes"] == subset]
        if not same:
            continue
        row = same[0]
        base = [x["base"] for x in same]
        disa = [x["disa"] for x in same]
        gap = [d - b for d, b in zip(disa, base, strict=True)]
        lines.append(
            f"| {row['arch']} | {_task(row['classes'])} | {_pm(base)} "
            f"| {_pm([x['base_restricted'] for x in same])} "
            f"| {_pm(disa)} | {_pm(gap)} | {row['params'][0]:,} → {row['params'][1]:,} "
            f"| {row['flops'][0] / 1e6:.2f}M → {row['flops'][1] / 1e6:.2f}M |"
        )
    lines += [
        "",
        "**Assembling** (component of model A, trained on classes 0–4, + component of model B, trained on "
        "5–9; Base = class-count-weighted mean of the two source models' Base; Score1 = no training, "
        "without / with parameter scaling (scales from the validation split); Score2 = Score1 with scaling "
        "after 1 epoch of fine-tuning of every weight on train images of the union; max |Δ| = assembled "
        "logits vs the components' logits concatenated, before scaling):",
        "",
        "| Arch | Task (A + B) | Base | Score1 unscaled | Score1 | Score2 | max \\|Δ\\| "
        "| Params (A+B → assembled) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for arch, a_part, b_part in _asse_order():
        task = [list(a_part), list(b_part)]
        same = [x for r in results for x in r["asse"] if x["arch"] == arch and x["task"] == task]
        if not same:
            continue
        row = same[0]
        diff = max(x["max_abs_diff"] for x in same)
        lines.append(
            f"| {row['arch']} | {_task(row['task'][0])} + {_task(row['task'][1])} "
            f"| {_pm([x['base'] for x in same])} "
            f"| {_pm([x['score1_unscaled'] for x in same])} | {_pm([x['score1'] for x in same])} "
            f"| {_pm([x['score2'] for x in same])} | {diff:.1e} "
            f"| {sum(row['components_params']):,} → {row['params']:,} |"
        )
    errors = [e for r in results for e in r["errors"]]
    if errors:
        lines += ["", "Rows that failed (reported, not hidden):", ""] + [f"- {e}" for e in errors]
    return "\n".join(lines) + "\n"


def sweep_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| Arch | Task | Base | " + " | ".join(f"Disa. (α, β × {x:g})" for x in SWEEP_SCALES) + " |",
        "|---|---|---|" + "---|" * len(SWEEP_SCALES),
    ]
    for arch in ARCHS:
        for subset in SWEEP_SUBSETS:
            mine = {r["scale"]: r for r in rows if r["arch"] == arch and tuple(r["classes"]) == subset}
            if not mine:
                continue
            cells = [
                f"{100 * mine[x]['disa']:.2f} ({mine[x]['params'][1]:,} p.)" if x in mine else "—"
                for x in SWEEP_SCALES
            ]
            base = 100 * next(iter(mine.values()))["base"]
            lines.append(f"| {arch} | {_task(list(subset))} | {base:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_results_section(body: str, path: Path) -> None:
    """Put the tables in this benchmark's section of docs/results.md, touching nothing else: between
    the section's table markers when it has them (the prose around them stays), else the section's
    whole body (appended at the end when there is no section yet)."""
    text = path.read_text()
    block = f"{BEGIN}\n{body}{END}"
    if SECTION not in text:
        path.write_text(text.rstrip("\n") + "\n\n" + SECTION + "\n\n" + block + "\n")
        return
    head, rest = text.split(SECTION, 1)
    nxt = rest.find("\n## ")
    section, tail = (rest[:nxt], rest[nxt:]) if nxt >= 0 else (rest, "")
    if BEGIN in section and END in section:
        before, after = section.split(BEGIN, 1)[0], section.split(END, 1)[1]
        section = before + block + after
    else:
        section = "\n\n" + block + "\n"
    path.write_text(head + SECTION + section + tail)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--npz", type=Path, default=ROOT.parent / "shared" / "datasets" / "fashion_mnist.npz")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "mda")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--train-images", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--finetune-images", type=int, default=3000)
    parser.add_argument("--finetune-lr", type=float, default=1e-3)
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="only the threshold sweep (α, β × 1, 0.5, 0) → <out>/mda_sweep.md",
    )
    parser.add_argument("--reuse-zoo", action="store_true", help="use <out>/zoo_seed<n> when it exists")
    parser.add_argument(
        "--fill-failed",
        action="store_true",
        help="redo only the assemblies that failed in <out>/mda_fashion.json (reusing the zoo)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    if args.fill_failed:
        args.reuse_zoo = True
        results = json.loads((args.out / "mda_fashion.json").read_text())
        for r in results:
            failed = [m for m in map(FAILED_ASSEMBLY.match, r["errors"]) if m]
            if not failed:
                continue
            only = {(m[1], ast.literal_eval(m[2]), ast.literal_eval(m[3])) for m in failed}
            extra = run_seed(args.npz, args.out, r["seed"], args, only)
            r["asse"] += extra["asse"]
            r["errors"] = [e for e in r["errors"] if not FAILED_ASSEMBLY.match(e)] + extra["errors"]
            order = {(a, tuple(x), tuple(y)): i for i, (a, x, y) in enumerate(_asse_order())}
            r["asse"].sort(key=lambda x: order[(x["arch"], tuple(x["task"][0]), tuple(x["task"][1]))])
        args.seeds = []
    if args.sweep:
        rows = [row for seed in args.seeds for row in run_seed(args.npz, args.out, seed, args)["sweep"]]
        (args.out / "mda_sweep.json").write_text(json.dumps(rows, indent=1) + "\n")
        (args.out / "mda_sweep.md").write_text(sweep_table(rows))
        print(sweep_table(rows))
        return
    for seed in args.seeds:
        results.append(run_seed(args.npz, args.out, seed, args))
        (args.out / "mda_fashion.json").write_text(json.dumps(results, indent=1) + "\n")
        (args.out / "mda_fashion.md").write_text(tables(results))
    (args.out / "mda_fashion.json").write_text(json.dumps(results, indent=1) + "\n")
    md = tables(results)
    (args.out / "mda_fashion.md").write_text(md)
    print(md)
    if args.write_results:
        write_results_section(md, ROOT / "docs" / "results.md")


if __name__ == "__main__":
    main()
