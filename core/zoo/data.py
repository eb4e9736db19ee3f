"""Image data for the zoo: a validated ``.npz`` loader, tensor preparation and a seeded split.

An image npz holds ``images`` (uint8, N×H×W or N×H×W×C with C = 1 or 3) and ``labels`` (integers,
N). Loading never unpickles (``allow_pickle=False``).
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from core.errors import InvalidInput

BUNDLED_SUBSET = Path(__file__).resolve().parents[2] / "data" / "fashion_subset.npz"
FASHION_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights for RGB -> gray


def bundled_subset_path() -> Path:
    """The 3,000-image Fashion-MNIST subset shipped with the project (data/README.md)."""
    return BUNDLED_SUBSET


def load_npz(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 N×H×W[×C], labels int64 N)`` from an image npz, or ``InvalidInput`` saying why not."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError as exc:
        raise InvalidInput(f"no such dataset file: {path}", details={"path": str(path)}) from exc
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise InvalidInput(
            f"{path.name} is not a readable .npz archive of arrays ({exc}); save it with numpy.savez",
            details={"path": str(path)},
        ) from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise InvalidInput(f"{path.name} holds a single array, not an .npz with 'images' and 'labels'")
    with archive:
        missing = [key for key in ("images", "labels") if key not in archive.files]
        if missing:
            raise InvalidInput(
                f"{path.name} lacks the key(s) {missing}; an image npz needs 'images' (uint8 N×H×W[×C]) "
                f"and 'labels' (integers, N), it has {sorted(archive.files)}",
                details={"missing": missing, "present": sorted(archive.files)},
            )
        try:
            images, labels = archive["images"], archive["labels"]
        except ValueError as exc:  # object arrays would need pickle
            raise InvalidInput(f"{path.name} stores object arrays, which are refused: {exc}") from exc
    return validate_arrays(images, labels)


def validate_arrays(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Check shapes and dtypes of an image set; labels come back as int64."""
    if images.dtype != np.uint8:
        raise InvalidInput(
            f"'images' must be uint8 (0..255), got {images.dtype}; convert with (x * 255).astype('uint8')",
            details={"dtype": str(images.dtype)},
        )
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[3] not in (1, 3)):
        raise InvalidInput(
            f"'images' must be N×H×W (gray) or N×H×W×C with C = 1 or 3, got shape {list(images.shape)}",
            details={"shape": list(images.shape)},
        )
    if min(images.shape[:3]) == 0:
        raise InvalidInput(
            f"'images' is empty (shape {list(images.shape)})", details={"shape": list(images.shape)}
        )
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise InvalidInput(
            f"'labels' must be one integer per image: {images.shape[0]} images but labels of shape "
            f"{list(labels.shape)}",
            details={"images": int(images.shape[0]), "labels_shape": list(labels.shape)},
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise InvalidInput(
            f"'labels' must be integers (class indices), got {labels.dtype}",
            details={"dtype": str(labels.dtype)},
        )
    if labels.min() < 0:
        raise InvalidInput("'labels' must be non-negative class indices", details={"min": int(labels.min())})
    return images, labels.astype(np.int64)


def prepare(
    images: np.ndarray,
    input_size: tuple[int, int, int],
    mean: Sequence[float] | float,
    std: Sequence[float] | float,
) -> torch.Tensor:
    """uint8 images (N×H×W[×C]) → normalised float32 tensor N×C×H'×W' at ``input_size`` (C, H', W').

    Gray images are repeated to 3 channels when the model wants RGB; RGB is reduced to luminance when
    it wants gray; bilinear resizing (antialiased when shrinking)."""
    channels, height, width = input_size
    if channels not in (1, 3):
        raise InvalidInput(f"input_size must have 1 or 3 channels, got {channels}")
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)
    x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)
    if x.shape[1] == 1 and channels == 3:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] == 3 and channels == 1:
        x = (x * torch.tensor(_LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
    if tuple(x.shape[2:]) != (height, width):
        shrink = height < x.shape[2] or width < x.shape[3]
        x = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False, antialias=shrink)
    m, s = _per_channel(mean, channels, "mean"), _per_channel(std, channels, "std")
    if (s <= 0).any():
        raise InvalidInput(f"std must be positive, got {s.flatten().tolist()}")
    return ((x - m) / s).contiguous()


def _per_channel(value: Sequence[float] | float, channels: int, name: str) -> torch.Tensor:
    values = [float(value)] if isinstance(value, int | float) else [float(v) for v in value]
    if len(values) == 1:
        values = values * channels
    if len(values) != channels:
        raise InvalidInput(f"{name} has {len(values)} values for {channels} channels")
    return torch.tensor(values, dtype=torch.float32).view(1, channels, 1, 1)


def stratified_split(
    labels: np.ndarray,
    holdout_fraction: float,
    seed: int,
    *,
    max_per_split: tuple[int | None, int | None] = (None, None),
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of indices into (train, held-out), each class split in the same proportion.

    ``max_per_split`` caps either side while keeping it stratified; both index arrays are shuffled."""
    if not 0.0 < holdout_fraction < 1.0:
        raise InvalidInput(f"holdout_fraction must be in (0, 1), got {holdout_fraction}")
    rng = np.random.default_rng(seed)
    train: list[np.ndarray] = []
    held: list[np.ndarray] = []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        cut = int(round(len(members) * holdout_fraction))
        if len(members) >= 2:
            cut = min(max(cut, 1), len(members) - 1)
        held.append(members[:cut])
        train.append(members[cut:])
    parts = []
    for pieces, cap in zip((train, held), max_per_split, strict=True):
        chosen = _cap_stratified(pieces, cap)
        parts.append(rng.permutation(chosen))
    return parts[0], parts[1]


def _cap_stratified(per_class: list[np.ndarray], cap: int | None) -> np.ndarray:
    total = sum(len(p) for p in per_class)
    if cap is None or cap >= total:
        return np.concatenate(per_class) if per_class else np.zeros(0, dtype=np.int64)
    if cap <= 0:
        raise InvalidInput(f"a split cap must be positive, got {cap}")
    quotas = [len(p) * cap // total for p in per_class]
    order = np.argsort([-(len(p) * cap % total) for p in per_class], kind="stable")
    for k in order[: cap - sum(quotas)]:  # hand the remainder to the largest fractional shares
        quotas[int(k)] += 1
    return np.concatenate([p[:q] for p, q in zip(per_class, quotas, strict=True)])
