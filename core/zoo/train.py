"""Train the project's own model zoo on CPU: six families at 32 px, gray input, heterogeneous tasks.

DeRy needs a zoo of different architectures trained on different sources. Without a model hub, we
train small ones on an image npz (Fashion-MNIST by default): AdamW + warm-up/cosine, seeded, a
stratified held-out split for the source-task accuracy. Every model is saved as safetensors with its
sha256 and described in ``zoo.json``; :func:`load_zoo_model` rebuilds it from timm and the weights
alone (no pickle anywhere).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

import core.zoo  # noqa: F401  (registers the project's architectures with timm)
from core.errors import InvalidInput
from core.flops import count_params
from core.metrics import accuracy as top1
from core.progress import Progress, no_progress
from core.zoo.data import FASHION_CLASSES, load_npz, prepare, stratified_split
from core.zoo.registry import load_weights_strict

ZOO_FORMAT = "reassembly-zoo/1"
INPUT_SIZE = (1, 32, 32)
HOLDOUT_FRACTION = 0.15


@dataclass(frozen=True)
class ZooRecipe:
    """How to train one zoo model: a timm architecture, its source task (a class subset) and optimiser."""

    name: str
    arch: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    classes: tuple[int, ...] | None = None  # source-task classes (dataset label ids); None = all
    lr: float = 2e-3
    weight_decay: float = 0.05
    seed_offset: int = 0


ZOO_RECIPES: tuple[ZooRecipe, ...] = (
    ZooRecipe("resnet_fmnist", "resnet_cifar", seed_offset=0),
    ZooRecipe("vgg_fmnist", "vgg_cifar", seed_offset=1),
    # Half depth (11 blocks): the full 17-block net at width 0.5 underfits in a short CPU schedule.
    ZooRecipe(
        "mobilenetv2_fmnist_c0-6",
        "mobilenetv2_cifar",
        kwargs={"depth_multiplier": 0.5},
        classes=tuple(range(0, 7)),
        lr=1e-2,
        seed_offset=2,
    ),
    ZooRecipe(
        "mobilenext_fmnist_c3-9",
        "mobilenext_cifar",
        kwargs={"width_mult": 0.35, "stem_stride": 2},
        classes=tuple(range(3, 10)),
        seed_offset=3,
    ),
    ZooRecipe("vit_fmnist", "vit_cifar", lr=1e-3, seed_offset=4),
    ZooRecipe("convnext_fmnist", "convnext_cifar", lr=2e-3, seed_offset=5),
)


@dataclass(frozen=True)
class ZooSetting:
    epochs: int
    max_train_images: int | None  # per model, after selecting its classes
    max_eval_images: int | None
    batch_size: int = 64


TINY = ZooSetting(epochs=1, max_train_images=192, max_eval_images=128, batch_size=64)  # tests: seconds
DEFAULT = ZooSetting(epochs=2, max_train_images=10000, max_eval_images=3000, batch_size=64)  # minutes


@dataclass(frozen=True)
class ZooEntry:
    """One trained zoo model as recorded in ``zoo.json``."""

    name: str
    arch: str
    kwargs: dict[str, Any]
    input_size: tuple[int, int, int]
    num_classes: int
    classes: tuple[int, ...]  # dataset label id of each output, in output order
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    accuracy: float  # source-task top-1 on the held-out split
    eval_images: int
    train_images: int
    epochs: int
    seed: int
    params: int
    weights_file: str  # relative to zoo.json's folder
    weights_sha256: str
    train_seconds: float

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("input_size", "classes", "class_names", "mean", "std"):
            d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ZooEntry:
        try:
            return cls(
                **{
                    **d,
                    "input_size": tuple(d["input_size"]),
                    "classes": tuple(d["classes"]),
                    "class_names": tuple(d["class_names"]),
                    "mean": tuple(d["mean"]),
                    "std": tuple(d["std"]),
                }
            )
        except (KeyError, TypeError) as exc:
            raise InvalidInput(f"not a zoo entry: {exc}", details={"keys": sorted(d)}) from exc

    def build(self) -> nn.Module:
        """The architecture at random init (weights come from :func:`load_zoo_model`)."""
        return timm.create_model(
            self.arch,
            pretrained=False,
            num_classes=self.num_classes,
            in_chans=self.input_size[0],
            **self.kwargs,
        )


def train_zoo(
    npz_path: str | Path,
    out_dir: str | Path,
    *,
    epochs: int = DEFAULT.epochs,
    max_train_images: int | None = DEFAULT.max_train_images,
    max_eval_images: int | None = DEFAULT.max_eval_images,
    batch_size: int = DEFAULT.batch_size,
    seed: int = 0,
    recipes: Sequence[ZooRecipe] = ZOO_RECIPES,
    threads: int | None = None,
    progress: Progress | None = None,
) -> list[ZooEntry]:
    """Train every recipe on ``npz_path`` and write ``<name>.safetensors`` + ``zoo.json`` to ``out_dir``.

    ``threads`` sets torch's intra-op threads for the call (restored after). On a CPU shared with
    other work, 1 thread trains these small models several times faster than an oversubscribed 2."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _train_zoo(
            npz_path, out_dir, epochs, max_train_images, max_eval_images, batch_size, seed, recipes, progress
        )
    finally:
        torch.set_num_threads(previous)


def _train_zoo(
    npz_path: str | Path,
    out_dir: str | Path,
    epochs: int,
    max_train_images: int | None,
    max_eval_images: int | None,
    batch_size: int,
    seed: int,
    recipes: Sequence[ZooRecipe],
    progress: Progress | None,
) -> list[ZooEntry]:
    report = progress or no_progress
    if epochs < 1 or batch_size < 1:
        raise InvalidInput(f"epochs and batch_size must be positive, got {epochs} and {batch_size}")
    if not recipes:
        raise InvalidInput("no recipes to train")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images, labels = load_npz(npz_path)
    train_idx, _ = stratified_split(labels, HOLDOUT_FRACTION, seed)
    mean, std = _pixel_stats(images[train_idx[:10000]])
    names = _class_names(labels)
    plans = [
        task_split(
            labels,
            r.classes,
            split_seed=seed,
            model_seed=seed * 1000 + r.seed_offset,
            max_train_images=max_train_images,
            max_eval_images=max_eval_images,
        )
        for r in recipes
    ]
    total_steps = sum(epochs * math.ceil(len(p[1]) / batch_size) for p in plans)
    done = 0
    entries: list[ZooEntry] = []
    for recipe, (classes, train_sel, eval_sel) in zip(recipes, plans, strict=True):
        model_seed = seed * 1000 + recipe.seed_offset
        x_train = prepare(images[train_sel], INPUT_SIZE, mean, std)
        y_train = torch.from_numpy(_remap(labels[train_sel], classes))
        x_eval = prepare(images[eval_sel], INPUT_SIZE, mean, std)
        y_eval = torch.from_numpy(_remap(labels[eval_sel], classes))
        torch.manual_seed(model_seed)
        model = timm.create_model(
            recipe.arch, pretrained=False, num_classes=len(classes), in_chans=INPUT_SIZE[0], **recipe.kwargs
        )
        start = time.perf_counter()

        def step_report(step: int, epoch: int, name: str = recipe.name, offset: int = done) -> None:
            report((offset + step) / total_steps, f"{name}: epoch {epoch + 1}/{epochs}")

        steps = _train(model, x_train, y_train, recipe, epochs, batch_size, model_seed, step_report)
        seconds = time.perf_counter() - start
        done += steps
        accuracy = round(top1(model, x_eval, y_eval), 4)
        weights = out / f"{recipe.name}.safetensors"
        digest = save_weights(model, weights, metadata={"arch": recipe.arch, "kwargs": recipe.kwargs})
        entries.append(
            ZooEntry(
                name=recipe.name,
                arch=recipe.arch,
                kwargs=dict(recipe.kwargs),
                input_size=INPUT_SIZE,
                num_classes=len(classes),
                classes=tuple(int(c) for c in classes),
                class_names=tuple(names[c] for c in classes),
                mean=(mean,),
                std=(std,),
                accuracy=accuracy,
                eval_images=len(eval_sel),
                train_images=len(train_sel),
                epochs=epochs,
                seed=model_seed,
                params=count_params(model),
                weights_file=weights.name,
                weights_sha256=digest,
                train_seconds=round(seconds, 2),
            )
        )
        report(done / total_steps, f"{recipe.name}: accuracy {accuracy:.3f} in {seconds:.0f} s")
    write_zoo_json(out / "zoo.json", entries, dataset=Path(npz_path), seed=seed)
    return entries


def task_split(
    labels: np.ndarray,
    classes: Sequence[int] | None,
    *,
    split_seed: int,
    model_seed: int,
    max_train_images: int | None,
    max_eval_images: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(classes, train indices, held-out indices) of one model's source task.

    The held-out split is shared by the whole zoo (stratified, ``split_seed``); each model then keeps
    its classes and a seeded random subset of at most the given sizes."""
    train_idx, held_idx = stratified_split(labels, HOLDOUT_FRACTION, split_seed)
    present = np.unique(labels)
    chosen_classes = np.array(classes if classes is not None else present, dtype=np.int64)
    missing = sorted(set(chosen_classes.tolist()) - set(present.tolist()))
    if missing:
        raise InvalidInput(
            f"a source task uses classes {missing} that the dataset does not have "
            f"(it has {present.tolist()})",
            details={"missing": missing},
        )
    rng = np.random.default_rng(model_seed)
    chosen = []
    for pool, cap in ((train_idx, max_train_images), (held_idx, max_eval_images)):
        mine = rng.permutation(pool[np.isin(labels[pool], chosen_classes)])
        chosen.append(mine if cap is None else mine[:cap])
    return chosen_classes, chosen[0], chosen[1]


def _remap(labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    lookup = {int(c): i for i, c in enumerate(classes)}
    return np.array([lookup[int(v)] for v in labels], dtype=np.int64)


def _pixel_stats(images: np.ndarray) -> tuple[float, float]:
    pixels = images.astype(np.float64) / 255.0
    return round(float(pixels.mean()), 4), round(float(pixels.std()), 4)


def _class_names(labels: np.ndarray) -> dict[int, str]:
    count = int(labels.max()) + 1
    if count == len(FASHION_CLASSES):
        return dict(enumerate(FASHION_CLASSES))
    return {c: f"class {c}" for c in range(count)}


def _train(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    recipe: ZooRecipe,
    epochs: int,
    batch_size: int,
    seed: int,
    report: Any,
) -> int:
    """AdamW with a linear warm-up (5 % of steps) into a cosine decay; random horizontal flips."""
    generator = torch.Generator().manual_seed(seed)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=recipe.lr,
    )
    per_epoch = math.ceil(len(x) / batch_size)
    total = epochs * per_epoch
    warmup = max(1, total // 20)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    model.train()
    step = 0
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            batch = order[start : start + batch_size]
            inputs = x[batch]
            flip = torch.rand(len(batch), generator=generator) < 0.5
            inputs = torch.where(flip.view(-1, 1, 1, 1), inputs.flip(3), inputs)
            loss = F.cross_entropy(model(inputs), y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            report(step, epoch)
    model.eval()
    return step


@torch.no_grad()
def save_weights(model: nn.Module, path: Path, metadata: dict[str, Any] | None = None) -> str:
    """Write the state dict as safetensors (atomically) and return the file's sha256.

    The metadata goes in ONE header key as sorted JSON: safetensors keeps metadata in a hash map, so
    several keys would be written in a random order and the same weights would hash differently."""
    tensors = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    tmp = path.with_suffix(path.suffix + ".tmp")
    header = json.dumps({"format": ZOO_FORMAT, **(metadata or {})}, sort_keys=True)
    save_file(tensors, str(tmp), metadata={"reassembly": header})
    os.chmod(tmp, 0o644)  # safetensors creates its files 0600; weights are not secrets
    os.replace(tmp, path)
    return sha256_file(path)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_zoo_json(path: Path, entries: Sequence[ZooEntry], *, dataset: Path, seed: int) -> None:
    document = {
        "format": ZOO_FORMAT,
        "dataset": {
            "file": dataset.name,
            "sha256": sha256_file(dataset),
            "holdout_fraction": HOLDOUT_FRACTION,
            "split_seed": seed,
        },
        "models": [e.to_dict() for e in entries],
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n")
    os.replace(tmp, path)


def read_zoo(path: str | Path) -> list[ZooEntry]:
    """The entries of a ``zoo.json``."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read zoo description {path}: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != ZOO_FORMAT:
        raise InvalidInput(f"{path} is not a {ZOO_FORMAT} document")
    return [ZooEntry.from_dict(m) for m in document.get("models", [])]


def load_zoo_model(entry_or_json: ZooEntry | dict[str, Any], weights_path: str | Path) -> nn.Module:
    """Rebuild a zoo model from timm and its safetensors weights (sha256-checked), in eval mode."""
    entry = entry_or_json if isinstance(entry_or_json, ZooEntry) else ZooEntry.from_dict(entry_or_json)
    weights = Path(weights_path)
    if not weights.is_file():
        raise InvalidInput(f"no weights file at {weights}", details={"path": str(weights)})
    digest = sha256_file(weights)
    if digest != entry.weights_sha256:
        raise InvalidInput(
            f"{weights.name} has sha256 {digest[:12]}… but zoo entry {entry.name!r} expects "
            f"{entry.weights_sha256[:12]}…; the file is not the one that was trained",
            details={"expected": entry.weights_sha256, "actual": digest},
        )
    try:
        state = load_file(str(weights))
    except Exception as exc:  # safetensors raises its own error types for malformed files
        raise InvalidInput(f"{weights.name} is not a valid safetensors file: {exc}") from exc
    model = entry.build()
    load_weights_strict(model, state, arch=entry.arch)
    return model.eval()
