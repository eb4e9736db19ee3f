"""Similarity and partition benchmarks (issue 5, done-when 5).

(a) sketch pass wall time ÷ plain forward wall time over the same probe batches (goal ≤ 1.25);
(b) peak RSS of the sketch pass with 512 vs 4,096 probe images, each in a fresh subprocess
    (goal: growth ≤ 10 %);
(c) partition time for 24 models × K=4 × 200 restarts on synthetic similarities (goal ≤ 5 s),
    exact re-cut and, for comparison, DeRy's one-node moves.

Models: with ``--zoo DIR`` the trained zoo described by DIR/zoo.json (written by core.zoo.train);
otherwise a few timm models at random init and a small input size (the output says which).

    .venv/bin/python benchmarks/similarity.py [--data PATH] [--zoo DIR] [--images 1024]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from core.dissect import Dissection, dissect, split  # noqa: E402
from core.partition import partition  # noqa: E402
from core.similarity import PointSimilarity, compute_sketches, point_layouts, probe_batches  # noqa: E402

DEFAULT_MODELS: list[tuple[str, dict[str, Any]]] = [
    ("test_resnet", {}),
    ("test_vit", {"img_size": 64}),
    ("test_convnext", {}),
    ("test_efficientnet", {}),
    ("mobilenetv3_small_050", {}),
    ("resnet18", {}),
]
DEFAULT_SIZE = 64
BATCH = 64
SEED = 0
# Node counts of the 24 models of DeRy's zoo (blocklize/block_meta.py), for the partition benchmark.
DERY_NODES = [8, 16, 33, 16, 16, 16, 16, 16, 12, 12, 12, 24, 12, 12, 15, 27, 27, 27, 14, 27, 21, 17, 18, 20]


@dataclass
class Loaded:
    name: str
    model: nn.Module
    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    channels: int = 3


def default_data() -> Path:
    shared = ROOT.parent / "shared" / "datasets" / "fashion_mnist.npz"
    return shared if shared.exists() else ROOT / "data" / "fashion_subset.npz"


def load_models(zoo: Path | None) -> tuple[list[Loaded], str]:
    import timm

    import core.zoo  # noqa: F401

    out: list[Loaded] = []
    if zoo is None:
        for name, kwargs in DEFAULT_MODELS:
            torch.manual_seed(0)
            model = timm.create_model(name, pretrained=False, num_classes=10, **kwargs).eval()
            cfg: dict[str, Any] = getattr(model, "pretrained_cfg", {})
            out.append(Loaded(name, model, DEFAULT_SIZE, tuple(cfg["mean"]), tuple(cfg["std"])))
        return out, f"timm models at random init, {DEFAULT_SIZE}×{DEFAULT_SIZE} input (no --zoo given)"
    from core.zoo.train import load_zoo_model, read_zoo

    for entry in read_zoo(zoo / "zoo.json"):
        model = load_zoo_model(entry, zoo / entry.weights_file)
        size = entry.input_size
        out.append(Loaded(entry.name, model.eval(), size[-1], entry.mean, entry.std, channels=size[0]))
    return out, f"trained zoo from {zoo}"


def transform_for(m: Loaded) -> Callable[[torch.Tensor], torch.Tensor]:
    mean = torch.tensor(m.mean).view(1, -1, 1, 1)
    std = torch.tensor(m.std).view(1, -1, 1, 1)

    def run(x: torch.Tensor) -> torch.Tensor:
        x = x.float().div(255.0).unsqueeze(1)
        x = F.interpolate(x, size=(m.size, m.size), mode="bilinear", align_corners=False)
        return (x.expand(-1, mean.shape[1], -1, -1) - mean) / std

    return run


@torch.inference_mode()
def plain_forward(m: Loaded, images: torch.Tensor, batches: np.ndarray) -> None:
    tf = transform_for(m)
    for index in batches:
        m.model(tf(images[torch.from_numpy(index)]))


def dissect_all(models: list[Loaded]) -> dict[str, Dissection]:
    """Dissection is registration work (done once per model, stored): never timed here."""
    return {m.name: dissect(m.model, (m.channels, m.size, m.size)) for m in models}


def sketch_pass(m: Loaded, d: Dissection, images: torch.Tensor, batches: np.ndarray) -> torch.Tensor:
    parts = split(m.model, d)
    kinds, prefix = point_layouts(d)
    return compute_sketches(
        parts.stem, parts.nodes, kinds, prefix, images, BATCH, batches=batches, transform=transform_for(m)
    )


def clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def bench_ratio(models: list[Loaded], cut: dict[str, Dissection], images: torch.Tensor, repeats: int) -> None:
    batches = probe_batches(len(images), BATCH, SEED)
    print(
        f"\n(a) sketch pass ÷ plain forward, {batches.size} probe images in batches of {BATCH}, "
        f"best of {repeats} (wall / CPU seconds; the machine is shared, CPU time is the steadier figure)"
    )
    total = np.zeros(4)
    for m in models:
        runs = []
        for _ in range(repeats):  # alternate, so load changes hit both alike
            w0, c0 = clocks()
            plain_forward(m, images, batches)
            w1, c1 = clocks()
            sketch_pass(m, cut[m.name], images, batches)
            w2, c2 = clocks()
            runs.append((w1 - w0, c1 - c0, w2 - w1, c2 - c1))
        fw, fc, sw, sc = np.min(np.array(runs), axis=0)
        total += (fw, fc, sw, sc)
        print(
            f"    {m.name:24s} forward {fw:6.2f} / {fc:6.2f} s   sketch {sw:6.2f} / {sc:6.2f} s   "
            f"ratio wall {sw / fw:4.2f}  CPU {sc / fc:4.2f}"
        )
    fw, fc, sw, sc = total
    print(
        f"    ALL MODELS               forward {fw:6.2f} / {fc:6.2f} s   sketch {sw:6.2f} / {sc:6.2f} s   "
        f"ratio wall {sw / fw:4.2f}  CPU {sc / fc:4.2f}   (goal ≤ 1.25)"
    )


def child_rss(data: Path, zoo: Path | None, cut_file: Path, count: int) -> None:
    """Subprocess body for (b): sketch every model on ``count`` images; print peak RSS (KiB)."""
    torch.set_num_threads(1)
    models, _ = load_models(zoo)
    cut = {k: Dissection.from_dict(v) for k, v in json.loads(cut_file.read_text()).items()}
    images = torch.from_numpy(np.load(data)["images"][:count])
    batches = probe_batches(len(images), BATCH, SEED)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sketches = [sketch_pass(m, cut[m.name], images, batches) for m in models]
    stored = sum(s.numel() * s.element_size() for s in sketches)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_rss_kib": peak, "before_kib": before, "sketch_bytes": stored}))


def bench_rss(data: Path, zoo: Path | None, cut: dict[str, Dissection]) -> None:
    print("\n(b) peak RSS of the sketch pass over all models (fresh subprocess each; dissections given)")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        cut_file = Path(tmp) / "dissections.json"
        cut_file.write_text(json.dumps({k: d.to_dict() for k, d in cut.items()}))
        for count in (512, 4096):
            cmd = [sys.executable, __file__, "--child-rss", str(count), "--data", str(data)]
            cmd += ["--dissections", str(cut_file)] + (["--zoo", str(zoo)] if zoo is not None else [])
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()
            results[count] = r = json.loads(out.splitlines()[-1])
            print(
                f"    {count:5d} images: peak RSS {r['peak_rss_kib'] / 1024:7.1f} MiB "
                f"(before the pass {r['before_kib'] / 1024:7.1f} MiB), "
                f"sketches {r['sketch_bytes'] / 2**20:5.2f} MiB"
            )
    growth = results[4096]["peak_rss_kib"] / results[512]["peak_rss_kib"] - 1.0
    print(f"    growth 512 → 4,096 images: {100 * growth:+.1f} %   (goal ≤ 10 %)")


def synthetic_zoo(seed: int) -> tuple[PointSimilarity, list[np.ndarray]]:
    """24 models with DeRy's node counts; CKA decays with relative depth, plus noise."""
    rng = np.random.default_rng(seed)
    depth = np.concatenate([np.sort(np.r_[0.0, rng.random(n - 1), 1.0]) for n in DERY_NODES])
    g = np.exp(-np.abs(depth[:, None] - depth[None, :]) / 0.3) + 0.05 * rng.normal(size=(len(depth),) * 2)
    g = np.clip((g + g.T) / 2, -1.0, 1.0)
    np.fill_diagonal(g, 1.0)
    offsets = tuple(int(o) for o in np.r_[0, np.cumsum(np.array(DERY_NODES) + 1)])
    return PointSimilarity(g, offsets), [np.ones(n) for n in DERY_NODES]


def bench_partition() -> None:
    sim, sizes = synthetic_zoo(0)
    print("\n(c) partition: 24 models (DeRy's node counts, synthetic similarities), K=4, ε=0.2, 200 restarts")
    for method in ("dp", "local"):
        t = time.perf_counter()
        part = partition(sim, sizes, k=4, epsilon=0.2, restarts=200, seed=0, method=method)  # type: ignore[arg-type]
        dt = time.perf_counter() - t
        label = "exact re-cut (DP)" if method == "dp" else "one-node moves (Eq. 6)"
        print(f"    {label:24s} {dt:6.2f} s   objective J = {part.objective:.4f}")
    print("    goal for the exact re-cut: ≤ 5 s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--zoo", type=Path, default=None)
    parser.add_argument("--images", type=int, default=1024, help="probe images for (a)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip", default="", help="comma list of parts to skip: a,b,c")
    parser.add_argument("--child-rss", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--dissections", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    data = args.data or default_data()
    if args.child_rss is not None:
        child_rss(data, args.zoo, args.dissections, args.child_rss)
        return
    torch.set_num_threads(1)
    skip = set(args.skip.split(","))
    models, what = load_models(args.zoo)
    print(f"data: {data}\nmodels: {what}: {', '.join(m.name for m in models)}\ntorch threads: 1")
    cut = dissect_all(models) if {"a", "b"} - skip else {}
    if "a" not in skip:
        images = torch.from_numpy(np.load(data)["images"][: args.images])
        bench_ratio(models, cut, images, args.repeats)
    if "b" not in skip:
        bench_rss(data, args.zoo, cut)
    if "c" not in skip:
        bench_partition()


if __name__ == "__main__":
    main()
