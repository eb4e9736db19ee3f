"""Bounds on what a request may ask a worker to build, checked before any work (torch-free).

A client's ``input_size`` or ``num_classes`` sizes the tensors a worker allocates: ``[3, 100000,
100000]`` made a worker try to allocate 120 GB, and ``num_classes`` = 1e12 likewise."""

from __future__ import annotations

from collections.abc import Sequence

from core.errors import InvalidInput

MAX_CLASSES = 100_000
MAX_SIDE = 4096
MIN_SIDE = 8
CHANNELS = (1, 3, 4)


def check_input_size(size: Sequence[int]) -> list[int]:
    """``[C, H, W]`` with C in 1, 3, 4 and 8 <= H, W <= 4096; else InvalidInput saying the bounds."""
    if len(size) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) for v in size):
        raise InvalidInput(f"input_size must be three integers [channels, height, width], got {list(size)}")
    channels, height, width = size
    if channels not in CHANNELS or not (MIN_SIDE <= height <= MAX_SIDE and MIN_SIDE <= width <= MAX_SIDE):
        raise InvalidInput(
            f"input_size {list(size)} is out of bounds: channels must be one of {CHANNELS} and height and "
            f"width between {MIN_SIDE} and {MAX_SIDE}",
            details={"input_size": list(size)},
        )
    return list(size)
