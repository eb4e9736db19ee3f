"""Least-squares vs random stitch initialisation on the fashion zoo (issue 6, done-when 3).

For DeRy-style candidates — three blocks from three different zoo models, block k being the k-th
third (by node count) of its model — build the network twice: stitches at their seeded random
initialisation, and stitches fitted by least squares on probe images. Both get a head fitted in
closed form (ridge regression, no gradient step) on training images and are scored on held-out
Fashion-MNIST images. Prints per-candidate accuracies, fit residuals, means and the win count.

    .venv/bin/python benchmarks/stitch_ls_vs_random.py --zoo DIR            # a trained zoo (zoo.json)
    .venv/bin/python benchmarks/stitch_ls_vs_random.py --train-zoo DIR --epochs 5 --max-train 12000
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core.dissect.discover import dissect  # noqa: E402
from core.dissect.pieces import SplitModel, split  # noqa: E402
from core.dissect.types import Dissection  # noqa: E402
from core.stitch import AssemblySpec, BlockRef, DonorModel, build_reassembled, fit_head_closed_form  # noqa: E402
from core.zoo.data import load_npz, prepare, stratified_split  # noqa: E402
from core.zoo.train import HOLDOUT_FRACTION, ZooEntry, load_zoo_model, read_zoo, train_zoo  # noqa: E402


def thirds(blocks: tuple[str, str, str], sizes: dict[str, int]) -> tuple[BlockRef, ...]:
    """Block k = the k-th third of model k's nodes (DeRy's equivalence sets by relative depth)."""
    refs = []
    for k, key in enumerate(blocks):
        n = sizes[key]
        cuts = [0, n // 3, 2 * n // 3, n]
        refs.append(BlockRef(key, cuts[k], cuts[k + 1] - 1))
    return tuple(refs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--npz", default=str(ROOT.parent / "shared" / "datasets" / "fashion_mnist.npz"))
    ap.add_argument("--zoo", help="folder with zoo.json and weights from core.zoo.train.train_zoo")
    ap.add_argument("--train-zoo", help="train the zoo into this folder first")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--max-train", type=int, default=4000)
    ap.add_argument("--candidates", type=int, default=16)
    ap.add_argument("--probe", type=int, default=1000, help="probe images for the least-squares fit")
    ap.add_argument("--head-train", type=int, default=2000, help="images for the closed-form head")
    ap.add_argument("--test", type=int, default=2000, help="held-out images scored")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)

    if args.train_zoo:
        start = time.perf_counter()
        train_zoo(
            args.npz, args.train_zoo, epochs=args.epochs, max_train_images=args.max_train, seed=args.seed
        )
        print(f"trained zoo in {time.perf_counter() - start:.0f} s -> {args.train_zoo}")
    zoo_dir = Path(args.train_zoo or args.zoo or "")
    if not (zoo_dir / "zoo.json").is_file():
        ap.error("give --zoo DIR (a trained zoo) or --train-zoo DIR")
    entries: dict[str, ZooEntry] = {e.name: e for e in read_zoo(zoo_dir / "zoo.json")}

    splits: dict[str, SplitModel] = {}
    dissections: dict[str, Dissection] = {}
    donors = []
    for name, e in entries.items():
        model = load_zoo_model(e, zoo_dir / e.weights_file)
        dissections[name] = dissect(model, e.input_size)
        splits[name] = split(model, dissections[name])
        kwargs = dict(e.kwargs, num_classes=e.num_classes, in_chans=e.input_size[0])
        donors.append(DonorModel(name, e.arch, e.input_size, kwargs, e.weights_sha256))
        print(f"{name:28s} source acc {e.accuracy:.3f}  nodes {len(dissections[name].nodes)}")

    images, labels = load_npz(args.npz)
    train_idx, held_idx = stratified_split(labels, HOLDOUT_FRACTION, args.seed)  # the zoo's own split
    rng = np.random.default_rng(args.seed + 1)
    fit_sel = rng.permutation(train_idx)[: max(args.probe, args.head_train)]
    test_sel = rng.permutation(held_idx)[: args.test]
    first = next(iter(entries.values()))
    x_fit = prepare(images[fit_sel], first.input_size, first.mean, first.std)
    y_fit = torch.from_numpy(labels[fit_sel]).long()
    x_test = prepare(images[test_sel], first.input_size, first.mean, first.std)
    y_test = torch.from_numpy(labels[test_sel]).long()

    sizes = {k: len(d.nodes) for k, d in dissections.items()}
    triples = list(itertools.permutations(sorted(entries), 3))
    random.Random(args.seed).shuffle(triples)
    print(f"\n{'candidate':60s} {'random':>7s} {'LS':>7s}  residuals")
    acc: dict[str, list[float]] = {"random": [], "ls": []}
    for triple in triples[: args.candidates]:
        spec = AssemblySpec(thirds(triple, sizes), tuple(donors), num_classes=10, seed=args.seed)
        row = []
        residuals: list[float | None] = []
        for mode in ("random", "ls"):
            probe = x_fit[: args.probe] if mode == "ls" else None
            net = build_reassembled(spec, splits, dissections, probe_images=probe)
            fit_head_closed_form(net, x_fit[: args.head_train], y_fit[: args.head_train])
            with torch.no_grad():
                hits = sum(
                    int((net(x_test[i : i + 256]).argmax(1) == y_test[i : i + 256]).sum())
                    for i in range(0, len(x_test), 256)
                )
            acc[mode].append(hits / len(x_test))
            row.append(acc[mode][-1])
            if mode == "ls":
                residuals = [s.fit_residual for s in net.all_stitches()]
        label = " > ".join(f"{b.model}[{b.first}..{b.last}]" for b in spec.blocks)
        res = ", ".join("-" if r is None else f"{r:.2f}" for r in residuals)
        print(f"{label:60s} {row[0]:7.3f} {row[1]:7.3f}  {res}", flush=True)
    wins = sum(b > a for a, b in zip(acc["random"], acc["ls"], strict=True))
    n = len(acc["ls"])
    print(
        f"\nmean held-out accuracy over {n} candidates: random stitches {np.mean(acc['random']):.3f}, "
        f"least-squares stitches {np.mean(acc['ls']):.3f}; LS better in {wins}/{n} (chance 0.100)"
    )


if __name__ == "__main__":
    main()
