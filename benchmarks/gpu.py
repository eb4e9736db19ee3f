"""GPU workers (issue 13, done-when 2): the sketch pass against a plain forward, per architecture.

For each of 8 real timm architectures at random init, over the same probe batches and in the same
precision, it times (best of ``--repeats``, alternating, device synchronised before each clock
reading, one untimed warm-up):

- a plain forward: probe minibatch → decoded, resized and normalised on the device → the model;
- ``core.similarity.compute_sketches``: the same, plus pooled features and a U-centred Gram per
  node, kept on the device and copied to the CPU once per model (what a partition job runs).

and prints sketch ÷ forward per model (goal on a GPU: ≤ 1.25 for every one). With ``--bf16`` both
run under bf16 autocast, and the CKA of the bf16 sketch against the fp32 one is reported too. With
``--partition`` the 8 sketches are partitioned (K=4) as a partition job would, and timed.

    .venv/bin/python benchmarks/gpu.py                                    # 2,048 images, 224², cuda
    .venv/bin/python benchmarks/gpu.py --device cpu --images 64 --size 64 # quick, on a CPU
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from core.device import autocast, enable_tf32, prepare_on, resolve_device, synchronize  # noqa: E402
from core.dissect import dissect, split  # noqa: E402
from core.similarity import cka_matrix, compute_sketches, point_layouts, probe_batches  # noqa: E402

MODELS = [
    "resnet50",
    "vit_small_patch16_224",
    "convnext_tiny",
    "efficientnet_b0",
    "swin_tiny_patch4_window7_224",
    "regnety_016",
    "mobilenetv3_large_100",
    "deit_tiny_patch16_224",
]
SIZED = ("vit_", "deit_", "swin_")  # token models take the input size as a constructor argument
SEED = 0


def probe_images(count: int) -> np.ndarray:
    shared = ROOT.parent / "shared" / "datasets" / "fashion_mnist.npz"
    path = shared if shared.exists() else ROOT / "data" / "fashion_subset.npz"
    images = np.load(path)["images"]
    if len(images) < count:
        images = np.concatenate([images] * (count // len(images) + 1))
    return images[:count]


def build(name: str, size: int, device: torch.device) -> tuple[nn.Module, Any]:
    import timm

    torch.manual_seed(SEED)
    kwargs = {"img_size": size} if name.startswith(SIZED) and size != 224 else {}
    model = timm.create_model(name, pretrained=False, **kwargs).eval().to(device)
    return model, dissect(model, (3, size, size))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", help="cuda (default), cpu or auto")
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast for both passes (+ its CKA change)")
    ap.add_argument("--partition", action="store_true", help="also partition the 8 sketches (K=4)")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated timm names")
    ap.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = ap.parse_args()

    device = resolve_device(args.device)
    enable_tf32(device)
    raw = torch.from_numpy(probe_images(args.images))
    if device.type == "cuda":
        raw = raw.pin_memory()
    batches = probe_batches(len(raw), args.batch, SEED)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"device {device} ({gpu}), torch {torch.__version__}, {batches.size} probe images, batch "
        f"{args.batch}, {args.size}², {'bf16 autocast' if args.bf16 else 'fp32'}, best of {args.repeats}"
    )
    rows: list[dict[str, Any]] = []
    sketches = []
    names = [n for n in args.models.split(",") if n]
    head = "| model | nodes | forward (s) | compute_sketches (s) | sketch ÷ forward |"
    cpu_head = " forward CPU s | sketch CPU s | ratio CPU time |" if device.type == "cpu" else ""
    print(head + cpu_head + " CKA Δ bf16 |" * args.bf16)
    print("|---" * (5 + 3 * bool(cpu_head) + args.bf16) + "|")
    for name in names:
        model, d = build(name, args.size, device)
        parts = split(model, d)
        kinds, prefix = point_layouts(d)
        cfg = model.pretrained_cfg

        def transform(x: torch.Tensor, cfg: dict[str, Any] = cfg) -> torch.Tensor:
            return prepare_on(x, (3, args.size, args.size), cfg["mean"], cfg["std"], x.device)

        @torch.inference_mode()
        def forward(model: nn.Module = model, transform: Any = transform) -> None:
            for index in batches:
                x = transform(raw[torch.from_numpy(index)].to(device, non_blocking=True))
                with autocast(device, args.bf16):
                    model(x)

        def sketch(bf16: bool, parts: Any = parts, kinds: Any = kinds, prefix: Any = prefix) -> torch.Tensor:
            return compute_sketches(
                parts.stem, parts.nodes, kinds, prefix, raw, args.batch, batches=batches,
                transform=transform, device=device, bf16=bf16,
            )  # fmt: skip

        forward()  # warm-up (cuDNN autotuning, allocator)
        sketch(args.bf16)
        runs = []
        for _ in range(args.repeats):  # alternate, so load changes hit both alike
            synchronize(device)
            t0, c0 = time.perf_counter(), time.process_time()
            forward()
            synchronize(device)
            t1, c1 = time.perf_counter(), time.process_time()
            s = sketch(args.bf16)
            synchronize(device)
            t2, c2 = time.perf_counter(), time.process_time()
            runs.append((t1 - t0, t2 - t1, c1 - c0, c2 - c1))
        fw, sk, fc, sc = np.min(np.array(runs), axis=0)
        row = {"model": name, "nodes": len(d.nodes), "forward_s": fw, "sketch_s": sk, "ratio": sk / fw,
               "forward_cpu_s": fc, "sketch_cpu_s": sc, "ratio_cpu": sc / fc}  # fmt: skip
        extra = ""
        if args.bf16:
            ref = sketch(False)
            row["cka_delta_bf16"] = float(np.abs(cka_matrix(s, s) - cka_matrix(ref, ref)).max())
            extra = f" {row['cka_delta_bf16']:.1e} |"
        rows.append(row)
        sketches.append(s)
        cpu = f" {fc:.3f} | {sc:.3f} | {sc / fc:.2f} |" if device.type == "cpu" else ""
        print(f"| {name} | {len(d.nodes)} | {fw:.3f} | {sk:.3f} | {sk / fw:.2f} |{cpu}{extra}", flush=True)
        del model, parts
        if device.type == "cuda":
            torch.cuda.empty_cache()
    worst = max(r["ratio"] for r in rows)
    total = sum(r["sketch_s"] for r in rows) / sum(r["forward_s"] for r in rows)
    print(f"worst ratio {worst:.2f}, all models {total:.2f} (wall; goal on a GPU: every one <= 1.25)")
    if device.type == "cpu":
        ctotal = sum(r["sketch_cpu_s"] for r in rows) / sum(r["forward_cpu_s"] for r in rows)
        print(f"CPU time: worst ratio {max(r['ratio_cpu'] for r in rows):.2f}, all models {ctotal:.2f}")
    result: dict[str, Any] = {"device": str(device), "gpu": gpu, "args": vars(args) | {"json": None}}
    if args.partition:
        from core.partition import partition
        from core.similarity import PointSimilarity

        t0 = time.perf_counter()
        sim = PointSimilarity.from_sketches(sketches)
        part = partition(sim, [np.ones(s.shape[0] - 1) for s in sketches], k=4, restarts=50, seed=SEED)
        result["partition_s"] = time.perf_counter() - t0
        print(f"partition of the {len(sketches)} sketches (CKA + K=4): {result['partition_s']:.2f} s, "
              f"objective {part.objective:.3f}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(result | {"models": rows}, indent=2))


if __name__ == "__main__":
    main()
