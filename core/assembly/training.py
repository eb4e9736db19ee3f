"""Gradient training of a reassembled network: FZ (blocks frozen: stitches + head, and a stitched
stem) or FT (everything), AdamW with a cosine schedule, seeded, with metrics per epoch.

Training starts from the least-squares stitches and the closed-form head and never loses that
starting point: the validation accuracy is measured before the first epoch and after every epoch,
and the weights of the best one (the start included; ties keep the earlier) are restored at the end.

Checkpoints (issue 13): given a ``Checkpoints`` store, every epoch ends by writing one checkpoint —
the trained part of the network (current and best), the optimiser, the schedule, the RNG states,
the epoch and the history — as one safetensors file (tensors, plus JSON in its metadata; never a
pickle). A run that finds a checkpoint under its name continues after that epoch, with the same
batches, learning rates and random numbers as if it had never stopped, and says so in its first
history record (``resumed_from_epoch``).
"""

from __future__ import annotations

import copy
import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from core.assembly.request import DEFAULT_EPOCHS, DEFAULT_LR, DEFAULT_WEIGHT_DECAY
from core.device import autocast, module_device
from core.errors import InvalidInput
from core.metrics import accuracy
from core.progress import Progress, no_progress
from core.stitch import ReassembledNet

Mode = Literal["frozen", "finetune"]
CHECKPOINT_FORMAT = "reassembly.training_checkpoint.v1"
STEP_REPORT_SECONDS = 2.0  # progress (and so a cancel) is looked at between steps this often
_RUN_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


class Checkpoints(Protocol):
    """Where a job keeps its training checkpoints, one per named training run."""

    def load(self, run: str) -> bytes | None: ...

    def save(self, run: str, data: bytes) -> None: ...


@dataclass(frozen=True)
class DirCheckpoints:
    """Checkpoints as files ``<root>/<run>.safetensors``; the worker chooses ``root`` (under its data
    directory, keyed by the job id), never a client. Writes are atomic (temporary file + rename)."""

    root: Path

    def _path(self, run: str) -> Path:
        if not _RUN_NAME.match(run):
            raise InvalidInput(f"a training run name must be a short word, got {run!r}")
        return self.root / f"{run}.safetensors"

    def load(self, run: str) -> bytes | None:
        path = self._path(run)
        return path.read_bytes() if path.is_file() else None

    def save(self, run: str, data: bytes) -> None:
        path = self._path(run)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".partial")
        tmp.write_bytes(data)
        tmp.replace(path)

    def clear(self) -> None:
        """Remove every checkpoint (after the job succeeded: its result holds what matters)."""
        if self.root.is_dir():
            for f in self.root.iterdir():
                f.unlink()
            self.root.rmdir()


def _trained_keys(net: ReassembledNet) -> list[str]:
    """State-dict keys training can change: all in FT; in FZ all but the frozen blocks (and the
    donor stem unless it is trained)."""
    keys = list(net.state_dict())
    if not net.frozen:
        return keys
    frozen = ("blocks.",) if net.train_stem else ("blocks.", "stem.")
    return [k for k in keys if not k.startswith(frozen)]


def _pack(
    net: ReassembledNet,
    best_state: dict[str, torch.Tensor],
    optimiser: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
    meta: dict[str, Any],
) -> bytes:
    keys = _trained_keys(net)
    state = net.state_dict()
    tensors = {f"state.{k}": state[k].detach().cpu().contiguous().clone() for k in keys}
    tensors |= {f"best.{k}": best_state[k].detach().cpu().contiguous().clone() for k in keys}
    opt = optimiser.state_dict()
    opt_scalars: dict[str, dict[str, Any]] = {}
    for index, per_param in opt["state"].items():
        for name, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{name}"] = value.detach().cpu().contiguous().clone()
            else:
                opt_scalars.setdefault(str(index), {})[name] = value
    tensors["rng.order"] = generator.get_state()
    tensors["rng.torch"] = torch.get_rng_state()
    device = module_device(net)
    if device.type == "cuda":
        tensors["rng.cuda"] = torch.cuda.get_rng_state(device)
    sched = {k: v for k, v in schedule.state_dict().items() if k != "lr_lambdas"}
    info = meta | {"param_groups": opt["param_groups"], "optim_scalars": opt_scalars, "schedule": sched}
    return st_save(tensors, metadata={"format": CHECKPOINT_FORMAT, "info": json.dumps(info)})


def _unpack(data: bytes) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from core.similarity.sketch import _metadata  # the safetensors header reader

    try:
        tensors = st_load(data)
        meta = _metadata(data)
    except Exception as exc:  # safetensors raises its own error types
        raise InvalidInput(f"not a training checkpoint: {exc}") from exc
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise InvalidInput(f"not a training checkpoint (format {meta.get('format')!r})")
    return tensors, json.loads(meta["info"])


def _restore(
    data: bytes,
    net: ReassembledNet,
    optimiser: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
    expect: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Load a checkpoint into the training state; returns its metadata and the best state dict."""
    tensors, info = _unpack(data)
    for key, value in expect.items():
        if info.get(key) != value:
            raise InvalidInput(
                f"the checkpoint was written for {key}={info.get(key)!r}, this run has {value!r}"
            )
    device = module_device(net)
    keys = _trained_keys(net)
    current = {k: tensors[f"state.{k}"] for k in keys}
    best = copy.deepcopy(net.state_dict())
    for k in keys:
        best[k] = tensors[f"best.{k}"].to(device)
    net.load_state_dict(current, strict=False)
    opt_state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            opt_state.setdefault(int(index), {})[key] = value
    for index, scalars in info["optim_scalars"].items():
        opt_state.setdefault(int(index), {}).update(scalars)
    optimiser.load_state_dict({"state": opt_state, "param_groups": info["param_groups"]})
    schedule.load_state_dict(info["schedule"] | {"lr_lambdas": [None] * len(optimiser.param_groups)})
    generator.set_state(tensors["rng.order"])
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and device.type == "cuda":
        torch.cuda.set_rng_state(tensors["rng.cuda"], device)
    return info, best


def train_network(
    net: ReassembledNet,
    images: torch.Tensor,
    labels: torch.Tensor,
    validation: tuple[torch.Tensor, np.ndarray],
    *,
    mode: Mode,
    epochs: int = DEFAULT_EPOCHS,
    lr: float = DEFAULT_LR,
    batch_size: int = 64,
    seed: int = 0,
    weight_decay: float = DEFAULT_WEIGHT_DECAY,
    progress: Progress | None = None,
    checkpoints: Checkpoints | None = None,
    run: str = "train",
    bf16: bool = False,
) -> list[dict[str, Any]]:
    """Train in place and keep the best epoch on ``validation``; returns one record per epoch
    (epoch 0 = the starting point) with the mean loss, the validation accuracy and ``kept``.

    Everything runs on the network's device (images and labels are moved there). ``checkpoints``
    and ``run``: write a checkpoint after every epoch and continue from one found under ``run``
    (the first record then has ``resumed_from_epoch``). ``bf16``: forward passes under bf16
    autocast (the weights and the optimiser stay float32)."""
    report = progress or no_progress
    device = module_device(net)
    images, labels = images.to(device), labels.to(device)
    if mode == "frozen":
        net.freeze_blocks()
    else:
        net.unfreeze()
    trainable = [p for p in net.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=lr, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(len(images) / batch_size)
    total = max(1, epochs * steps_per_epoch)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: 0.5 * (1 + math.cos(math.pi * s / total))
    )
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    expect = {"mode": mode, "epochs": epochs, "images": len(images), "batch_size": batch_size,
              "seed": seed, "lr": lr, "blocks": [b.to_dict() for b in net.spec.blocks]}  # fmt: skip
    saved = checkpoints.load(run) if checkpoints is not None else None
    first = 1
    if saved is not None:
        info, best_state = _restore(saved, net, optimiser, schedule, generator, expect)
        best_acc, best_epoch, history = info["best_acc"], info["best_epoch"], info["history"]
        first = info["epoch"] + 1
        history[0]["resumed_from_epoch"] = info["epoch"]
        report(info["epoch"] / max(epochs, 1), f"resumed {run} from its epoch {info['epoch']} checkpoint")
    else:
        best_acc, best_epoch, best_state = accuracy(net, *validation), 0, copy.deepcopy(net.state_dict())
        history = [{"epoch": 0, "loss": None, "validation_accuracy": best_acc}]
    last_report = time.monotonic()
    for epoch in range(first, epochs + 1):
        net.train()
        order = torch.randperm(len(images), generator=generator).to(device)
        losses = []
        for step, start in enumerate(range(0, len(images), batch_size)):
            idx = order[start : start + batch_size]
            with autocast(device, bf16):
                loss = loss_fn(net(images[idx]).float(), labels[idx])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.detach())
            if time.monotonic() - last_report > STEP_REPORT_SECONDS:  # lets a cancel stop between steps
                report(
                    (epoch - 1 + step / steps_per_epoch) / epochs, f"epoch {epoch}/{epochs}: step {step + 1}"
                )
                last_report = time.monotonic()
        val = accuracy(net, *validation)
        history.append(
            {"epoch": epoch, "loss": float(torch.stack(losses).mean()), "validation_accuracy": val}
        )
        if val > best_acc:
            best_acc, best_epoch, best_state = val, epoch, copy.deepcopy(net.state_dict())
        if checkpoints is not None:
            meta = expect | {
                "epoch": epoch,
                "best_acc": best_acc,
                "best_epoch": best_epoch,
                "history": history,
            }
            checkpoints.save(run, _pack(net, best_state, optimiser, schedule, generator, meta))
        report(
            epoch / epochs, f"epoch {epoch}/{epochs}: loss {history[-1]['loss']:.3f}, validation {val:.1%}"
        )
        last_report = time.monotonic()
    net.load_state_dict(best_state)
    net.eval()
    for record in history:
        record["kept"] = record["epoch"] == best_epoch
    return history
