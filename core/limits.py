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


# Datasets (.npz), checked from the zip directory and the .npy headers before any array is read.
MAX_DATASET_ARRAY_BYTES = 2 * 1024**3  # all arrays once inflated: a 2.9 MB npz declared 3 GB
MAX_DATASET_IMAGES = 1_000_000
MAX_NPZ_MEMBERS = 16
MAX_CLASS_NAMES_BYTES = 16 * 1024**2

# Request bodies, checked by api.body_limits before anything is read (settings may lower or raise
# the upload ones: REASSEMBLY_MAX_WEIGHTS_BYTES, REASSEMBLY_MAX_DATASET_BYTES, REASSEMBLY_MAX_JSON_BYTES).
DEFAULT_MAX_WEIGHTS_BYTES = 512 * 1024**2
DEFAULT_MAX_DATASET_BYTES = 256 * 1024**2
DEFAULT_MAX_JSON_BYTES = 1024**2

# Integers in request bodies: every one is bounded in the schema, so none reaches a worker, numpy
# or the database as a number that overflows (2**63 gave OverflowError 500s).
MAX_SEED = 2**31 - 1
MAX_PARAMS = 10**12  # parameter and FLOP budgets: far beyond any model, far below 2**63
MAX_FLOPS = 10**15
MAX_LATENCY_MS = 3_600_000.0  # an hour per image
MAX_CANARY_SECONDS = 86_400.0  # the schema's bound; REASSEMBLY_MAX_CANARY_SECONDS is usually lower
MAX_PARTITION_MODELS = 64
MAX_CLASS_NAME_LENGTH = 200
