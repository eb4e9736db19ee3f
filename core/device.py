"""One device rule for every network job (issue 13).

The worker resolves the device once (``resolve_device``: ``auto`` picks CUDA when present) and
passes it into ``core``; core functions take ``device`` (default CPU), keep inputs, modules,
stitches, heads and accumulators on it, and hand results back on the CPU (sketches, metrics,
exported weights). This module holds the few helpers that rule needs: resolving a device name,
synchronising before reading a clock, the device of a module, and images decoded, resized and
normalised on the device (the same numbers as ``core.zoo.data.prepare`` on the CPU).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.errors import InvalidInput

_LUMA = (0.299, 0.587, 0.114)  # as core.zoo.data: ITU-R BT.601 weights for RGB -> gray


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """``auto``/None → CUDA when available, else CPU; ``cuda`` without a GPU is an error, not a
    silent fallback (the operator asked for it)."""
    if isinstance(name, torch.device):
        return name
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInput(f"device {name!r} was requested but torch sees no CUDA device on this worker")
    return device


def module_device(module: nn.Module, default: torch.device | str = "cpu") -> torch.device:
    """The device of a module's first parameter (or buffer); ``default`` for a module with neither."""
    for p in module.parameters():
        return p.device
    for b in module.buffers():
        return b.device
    return torch.device(default)


def synchronize(device: torch.device | str) -> None:
    """Wait for the device's queued work (CUDA kernels run asynchronously); a no-op on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def enable_tf32(device: torch.device | str) -> None:
    """TF32 matmuls and convolutions on CUDA (Ampere and later); nothing on the CPU."""
    if torch.device(device).type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


@contextlib.contextmanager
def autocast(device: torch.device | str, enabled: bool) -> Iterator[None]:
    """bf16 autocast for forward passes when ``enabled`` (CUDA or CPU), else nothing."""
    device = torch.device(device)
    if not enabled:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
        yield


def prepare_on(
    images: np.ndarray | torch.Tensor,
    input_size: tuple[int, int, int],
    mean: Sequence[float] | float,
    std: Sequence[float] | float,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """uint8 images (N×H×W[×C]) → normalised float32 N×C×H'×W' on ``device``: the uint8 bytes are
    copied to the device first and converted, resized and normalised there. On the CPU this gives
    exactly ``core.zoo.data.prepare`` (a test checks it)."""
    channels, height, width = input_size
    if channels not in (1, 3):
        raise InvalidInput(f"input_size must have 1 or 3 channels, got {channels}")
    raw = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    x = raw.to(device, non_blocking=True).float().div_(255.0)
    x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)
    if x.shape[1] == 1 and channels == 3:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] == 3 and channels == 1:
        x = (x * torch.tensor(_LUMA, device=x.device).view(1, 3, 1, 1)).sum(1, keepdim=True)
    if tuple(x.shape[2:]) != (height, width):
        shrink = height < x.shape[2] or width < x.shape[3]
        x = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False, antialias=shrink)
    m, s = _per_channel(mean, channels, "mean", x.device), _per_channel(std, channels, "std", x.device)
    if bool((s <= 0).any()):
        raise InvalidInput(f"std must be positive, got {s.flatten().tolist()}")
    return ((x - m) / s).contiguous()


def _per_channel(
    value: Sequence[float] | float, channels: int, name: str, device: torch.device
) -> torch.Tensor:
    values = [float(value)] if isinstance(value, int | float) else [float(v) for v in value]
    if len(values) == 1:
        values = values * channels
    if len(values) != channels:
        raise InvalidInput(f"{name} has {len(values)} values for {channels} channels")
    return torch.tensor(values, dtype=torch.float32, device=device).view(1, channels, 1, 1)
