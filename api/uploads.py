"""Checks on uploaded files that need no torch: safetensors header sniffing, npz datasets.

A pickle is recognised by its first bytes and refused; nothing here ever unpickles.
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path
from typing import Any

from core.errors import InvalidInput, UnsupportedMediaType

_PICKLE_HINT = (
    "Weights are accepted as safetensors only, since unpickling a .pt/.pth/.bin file can run arbitrary "
    "code. Convert it where you trust it: "
    "`from safetensors.torch import save_file; "
    "save_file(torch.load(p, weights_only=True), 'model.safetensors')`"
)
_MAX_HEADER = 100 * 1024 * 1024


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file, validated against the file size."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(9)
        n = struct.unpack("<Q", head[:8])[0] if len(head) == 9 else 0
        # A safetensors file is an 8-byte little-endian header length, then a JSON object.
        if head[8:9] != b"{" or n < 2 or n > min(_MAX_HEADER, size - 8):
            if head[:1] == b"\x80":
                kind = "a pickle"
            elif head[:2] == b"PK":
                kind = "a zip archive (PyTorch's torch.save format)"
            else:
                kind = "in an unknown format"
            raise UnsupportedMediaType(f"the file is {kind}, not safetensors. " + _PICKLE_HINT)
        f.seek(8)
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnsupportedMediaType("the safetensors header is not valid JSON. " + _PICKLE_HINT) from exc
    if not isinstance(header, dict):
        raise UnsupportedMediaType("the safetensors header is not a JSON object")
    body = size - 8 - n
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        start, end = entry.get("data_offsets", (0, -1))
        if not (0 <= start <= end <= body):
            raise InvalidInput(f"tensor {key!r} points outside the file: the safetensors file is truncated")
    return header


def read_npz_dataset(path: Path) -> dict[str, Any]:
    """Validate an image-classification .npz (``images`` uint8 N,H,W[,C]; ``labels`` N) without pickle."""
    import numpy as np

    if not zipfile.is_zipfile(path):
        raise UnsupportedMediaType("a dataset must be an .npz file with arrays 'images' and 'labels'")
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
            if not {"images", "labels"} <= keys:
                raise InvalidInput(
                    f"the .npz needs arrays 'images' and 'labels'; it has {sorted(keys)}",
                    details={"keys": sorted(keys)},
                )
            images, labels = data["images"], data["labels"]
            class_names = [str(c) for c in data["class_names"]] if "class_names" in keys else None
    except ValueError as exc:  # object arrays need pickle: refused
        raise InvalidInput(f"the .npz could not be read without pickle: {exc}") from exc
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise InvalidInput(
            "'images' must be uint8 with shape (N, H, W) or (N, H, W, C); "
            f"got {images.dtype} {list(images.shape)}"
        )
    if images.ndim == 4 and images.shape[3] not in (1, 3):
        raise InvalidInput(f"'images' must have 1 or 3 channels last; got shape {list(images.shape)}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0] or labels.dtype.kind not in "iu":
        raise InvalidInput(
            f"'labels' must be integers of shape ({images.shape[0]},); "
            f"got {labels.dtype} {list(labels.shape)}"
        )
    if labels.size and labels.min() < 0:
        raise InvalidInput("'labels' must be non-negative class indices")
    num_classes = int(labels.max()) + 1 if labels.size else 0
    if class_names is not None and len(class_names) < num_classes:
        raise InvalidInput(f"'class_names' has {len(class_names)} names for {num_classes} classes")
    return {
        "num_images": int(images.shape[0]),
        "image_shape": [int(s) for s in images.shape[1:]],
        "num_classes": num_classes,
        "class_names": class_names,
    }
