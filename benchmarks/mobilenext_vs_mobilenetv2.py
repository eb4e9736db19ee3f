"""MobileNeXt vs MobileNetV2 at a matched parameter budget on 32 px Fashion-MNIST (issue 4, done-when 4).

Both networks get the same small-input adaptation (stem stride 1, first downsampling stage at
stride 1: total stride 8, a 4x4 map before pooling), one input channel and 10 classes:

- MobileNeXt: ``timm.create_model("mobilenext_cifar", in_chans=1)`` (width 0.5).
- MobileNetV2: timm's own EfficientNet builder with timm's MobileNetV2 arch string (24-channel stage
  at stride 1, stem conv stride set to 1) and the channel multiplier whose parameter count is
  closest to MobileNeXt's (searched in steps of 0.01; the match is printed).

Same data, split, batch order, seed and recipe for both: AdamW (lr 2e-3, weight decay 0.05),
cosine decay per step, batch 64, dropout 0.2, plain cross-entropy, no augmentation. Images are
padded 28 -> 32 and normalised with the training split's mean/std. One CPU thread.

    .venv/bin/python benchmarks/mobilenext_vs_mobilenetv2.py [--data PATH] [--epochs 2]
        [--train-images 4000] [--test-images 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import timm  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from timm.models._efficientnet_builder import decode_arch_def, round_channels  # noqa: E402
from timm.models.efficientnet import EfficientNet  # noqa: E402
from torch import nn  # noqa: E402

import core.zoo  # noqa: E402, F401  (registers mobilenext_* with timm)
from core.flops import count_flops, count_params  # noqa: E402

SHARED_FASHION = ROOT.parent / "shared" / "datasets" / "fashion_mnist.npz"
BUNDLED_FASHION = ROOT / "data" / "fashion_subset.npz"
NUM_CLASSES = 10
SIZE = 32
BATCH = 64
LR = 2e-3
WEIGHT_DECAY = 0.05
DROP_RATE = 0.2
# timm's MobileNetV2 arch strings with the 24-channel stage at stride 1 (the usual CIFAR change).
MOBILENETV2_SMALL_INPUT_ARCH = [
    ["ds_r1_k3_s1_c16"],
    ["ir_r2_k3_s1_e6_c24"],
    ["ir_r3_k3_s2_e6_c32"],
    ["ir_r4_k3_s2_e6_c64"],
    ["ir_r3_k3_s1_e6_c96"],
    ["ir_r3_k3_s2_e6_c160"],
    ["ir_r1_k3_s1_e6_c320"],
]


@dataclass
class Split:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


@dataclass
class Result:
    name: str
    params: int
    mflops: float
    accuracy: float
    train_seconds: float


def load_split(path: Path, train_images: int, test_images: int, seed: int) -> Split:
    """Seeded, stratified, disjoint train/test subsets, padded to 32 px and normalised."""
    with np.load(path) as data:
        images, labels = data["images"], data["labels"].astype(np.int64)
    per_class_train, per_class_test = train_images // NUM_CLASSES, test_images // NUM_CLASSES
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for c in range(NUM_CLASSES):
        idx = rng.permutation(np.flatnonzero(labels == c))
        if len(idx) < per_class_train + per_class_test:
            raise SystemExit(
                f"{path} has {len(idx)} images of class {c}; --train-images {train_images} and "
                f"--test-images {test_images} need {per_class_train + per_class_test} per class"
                " (ask for fewer)"
            )
        train_idx.append(idx[:per_class_train])
        test_idx.append(idx[per_class_train : per_class_train + per_class_test])
    tr, te = rng.permutation(np.concatenate(train_idx)), np.concatenate(test_idx)

    def tensor(idx: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(images[idx]).float().div_(255.0).unsqueeze(1)
        return F.pad(x, (2, 2, 2, 2))  # 28 -> 32, background is 0

    x_train, x_test = tensor(tr), tensor(te)
    mean, std = x_train.mean(), x_train.std()
    return Split(
        (x_train - mean) / std,
        torch.from_numpy(labels[tr]),
        (x_test - mean) / std,
        torch.from_numpy(labels[te]),
    )


def mobilenetv2_small_input(multiplier: float) -> nn.Module:
    """timm's MobileNetV2 (EfficientNet builder, ReLU6, head conv to 1280) for 32 px inputs."""
    round_chs = partial(round_channels, multiplier=multiplier)
    model = EfficientNet(
        block_args=decode_arch_def(MOBILENETV2_SMALL_INPUT_ARCH),
        num_features=max(1280, round_chs(1280)),
        stem_size=32,
        round_chs_fn=round_chs,
        act_layer=nn.ReLU6,
        norm_layer=nn.BatchNorm2d,
        in_chans=1,
        num_classes=NUM_CLASSES,
        drop_rate=DROP_RATE,
    )
    # timm's EfficientNet stem is fixed at stride 2; its 3x3 conv pads by 1, so stride 1 keeps 32 px.
    model.conv_stem.stride = (1, 1)  # type: ignore[assignment]
    return model


def matched_multiplier(target_params: int) -> tuple[float, int]:
    best = min(
        (abs(count_params(mobilenetv2_small_input(m / 100)) - target_params), m / 100) for m in range(25, 151)
    )
    multiplier = best[1]
    return multiplier, count_params(mobilenetv2_small_input(multiplier))


def train_and_evaluate(name: str, model: nn.Module, split: Split, epochs: int, seed: int) -> Result:
    params = count_params(model)
    mflops = count_flops(model, split.x_test[:1]) / 1e6
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    steps_per_epoch = (len(split.x_train) + BATCH - 1) // BATCH
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch)
    order = torch.Generator().manual_seed(seed)  # the same batch order for both models
    start = time.perf_counter()
    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(split.x_train), generator=order)
        total = 0.0
        for step in range(steps_per_epoch):
            idx = perm[step * BATCH : (step + 1) * BATCH]
            loss = F.cross_entropy(model(split.x_train[idx]), split.y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach())
        print(f"  {name}: epoch {epoch + 1}/{epochs} mean loss {total / steps_per_epoch:.4f}", flush=True)
    train_seconds = time.perf_counter() - start
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(split.x_test), 256):
            logits = model(split.x_test[i : i + 256])
            correct += int((logits.argmax(1) == split.y_test[i : i + 256]).sum())
    return Result(name, params, mflops, correct / len(split.x_test), train_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    default_data = SHARED_FASHION if SHARED_FASHION.exists() else BUNDLED_FASHION
    parser.add_argument(
        "--data", type=Path, default=default_data, help=f"npz with images/labels ({default_data})"
    )
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-images", type=int, default=4000)
    parser.add_argument("--test-images", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.data.exists():
        parser.error(f"no dataset at {args.data}; pass --data with a Fashion-MNIST npz (images, labels)")
    torch.set_num_threads(1)

    split = load_split(args.data, args.train_images, args.test_images, args.seed)
    print(
        f"data {args.data} | train {len(split.x_train)} test {len(split.x_test)} | {SIZE} px | "
        f"epochs {args.epochs} | batch {BATCH} | AdamW lr {LR} wd {WEIGHT_DECAY} cosine | seed {args.seed}"
    )

    torch.manual_seed(args.seed)
    mobilenext = timm.create_model(
        "mobilenext_cifar", in_chans=1, num_classes=NUM_CLASSES, drop_rate=DROP_RATE
    )
    multiplier, mbv2_params = matched_multiplier(count_params(mobilenext))
    print(
        f"MobileNetV2 channel multiplier {multiplier:.2f}: the closest to {count_params(mobilenext):,} params"
    )
    torch.manual_seed(args.seed)
    mobilenetv2 = mobilenetv2_small_input(multiplier)

    results = [
        train_and_evaluate("MobileNeXt (mobilenext_cifar, w0.5)", mobilenext, split, args.epochs, args.seed),
        train_and_evaluate(
            f"MobileNetV2 (timm, w{multiplier:.2f})", mobilenetv2, split, args.epochs, args.seed
        ),
    ]
    gap = abs(mbv2_params - results[0].params) / results[0].params
    print(f"\nparameter budgets differ by {100 * gap:.1f} %")
    print(f"{'model':<38} {'params':>10} {'MFLOPs':>8} {'test acc':>9} {'train s':>8}")
    for r in results:
        print(
            f"{r.name:<38} {r.params:>10,} {r.mflops:>8.1f} {100 * r.accuracy:>8.2f}% {r.train_seconds:>8.1f}"
        )


if __name__ == "__main__":
    main()
