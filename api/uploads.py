"""Checks on uploaded files that need no torch: safetensors weights, npz datasets (and ImageFolder
zips, turned into npz datasets by ``api.imagefolder``).

Each format is parsed by the library that owns it: safetensors headers by the ``safetensors``
package (its numpy framework, no torch), npz members by ``zipfile`` and ``numpy.lib.format``.
Nothing here ever unpickles, and nothing allocates what a file merely declares: an npz member's
compressed and uncompressed sizes and its ``.npy`` header (shape × dtype) are checked against
``core.limits`` before a single array byte is read, and the images are never held in memory
(they are decompressed in chunks to check they are all there). Every malformed file is an
``InvalidInput`` (422), ``UnsupportedMediaType`` (415) or ``PayloadTooLarge`` (413) that says what was
wrong and what to do — never an unexpected exception.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path
from typing import IO, Any

from fastapi import UploadFile

from api.imagefolder import imagefolder_to_npz, looks_like_imagefolder
from core.errors import (
    InvalidInput,
    PayloadTooLarge,
    UnsupportedMediaType,
    reported_as_invalid,
)
from core.limits import (
    MAX_CLASS_NAMES_BYTES,
    MAX_CLASSES,
    MAX_DATASET_ARRAY_BYTES,
    MAX_DATASET_IMAGES,
    MAX_NPZ_MEMBERS,
    MAX_SIDE,
)

_PICKLE_HINT = (
    "Weights are accepted as safetensors only, since unpickling a .pt/.pth/.bin file can run arbitrary "
    "code. Convert it where you trust it: "
    "`from safetensors.torch import save_file; "
    "save_file(torch.load(p, weights_only=True), 'model.safetensors')`"
)
_RESAVE_HINT = (
    "save the weights again with safetensors (`safetensors.torch.save_file`) and upload the whole file"
)
_NPZ_HINT = (
    "write the dataset with `numpy.savez(path, images=..., labels=...)` (or savez_compressed) and upload "
    "the whole file"
)
_MAX_NPY_HEADER = 10_000  # numpy's own default bound on a .npy header
_CHUNK = 1024 * 1024


# ---------------------------------------------------------------------------------------------
# safetensors


def _sniff_kind(head: bytes) -> str:
    if head[:1] == b"\x80":
        return "a pickle"
    if head[:2] == b"PK":
        return "a zip archive (PyTorch's torch.save format)"
    return "in an unknown format"


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The tensors (name → dtype and shape, plus ``__metadata__`` when present) of a safetensors file,
    parsed and checked (offsets, sizes, dtypes, coverage of the file) by the ``safetensors`` package.

    A file that does not start like safetensors (8-byte little-endian header length, then ``{``) is
    refused with 415 naming what it looks like; a safetensors file that the package refuses (bad JSON,
    bad entries or offsets, deep nesting, truncation) is refused with 422 and the package's reason.
    """
    from safetensors import SafetensorError, safe_open

    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(9)
    n = struct.unpack("<Q", head[:8])[0] if len(head) == 9 else 0
    if head[8:9] != b"{" or n < 2:
        raise UnsupportedMediaType(f"the file is {_sniff_kind(head)}, not safetensors. " + _PICKLE_HINT)
    if n > size - 8:
        raise InvalidInput(
            f"the safetensors header declares {n} bytes but the file has only {size - 8} after the length: "
            f"the file is truncated; {_RESAVE_HINT}",
            details={"header_bytes": n, "file_bytes": size},
        )
    try:
        with safe_open(str(path), framework="numpy") as st:
            out: dict[str, Any] = {}
            for name in st.keys():  # noqa: SIM118 - safe_open is not a mapping
                piece = st.get_slice(name)
                out[name] = {"dtype": piece.get_dtype(), "shape": list(piece.get_shape())}
            metadata = st.metadata()
    except SafetensorError as exc:
        raise InvalidInput(
            f"the file is not valid safetensors ({exc}); it may be truncated or corrupt: {_RESAVE_HINT}",
            details={"reason": str(exc)},
        ) from exc
    except (OSError, ValueError, RecursionError, MemoryError) as exc:
        raise InvalidInput(
            f"the safetensors file could not be read ({type(exc).__name__}: {exc}); {_RESAVE_HINT}"
        ) from exc
    if metadata is not None:
        out["__metadata__"] = dict(metadata)
    return out


# ---------------------------------------------------------------------------------------------
# npz datasets


def _gib(n: int) -> str:
    return f"{n / 1024**3:.2f} GiB" if n >= 1024**3 else f"{n / 1024**2:.1f} MiB"


def _central_directory(path: Path) -> tuple[int, int]:
    """(entries, central directory bytes) from the zip's end record, before zipfile builds one object
    per entry: a 256 MiB archive of empty members would otherwise hold millions of them in memory."""
    with open(path, "rb") as f:
        end = zipfile._EndRecData(f)  # type: ignore[attr-defined]  # the reader ZipFile itself uses
    if not end:
        raise InvalidInput(f"the .npz is not a readable zip archive (no end record); {_NPZ_HINT}")
    return int(end[zipfile._ECD_ENTRIES_TOTAL]), int(end[zipfile._ECD_SIZE])  # type: ignore[attr-defined]


def _npy_header(fp: IO[bytes], member: str) -> tuple[tuple[int, ...], Any, bool]:
    """Shape, dtype and Fortran order of one ``.npy`` member, from its header alone."""
    import numpy as np

    fmt = np.lib.format
    version = fmt.read_magic(fp)
    if version == (1, 0):
        shape, fortran, dtype = fmt.read_array_header_1_0(fp, max_header_size=_MAX_NPY_HEADER)
    elif version == (2, 0):
        shape, fortran, dtype = fmt.read_array_header_2_0(fp, max_header_size=_MAX_NPY_HEADER)
    else:
        raise InvalidInput(f"member {member!r} is .npy format {version}, which is not supported; {_NPZ_HINT}")
    if not all(isinstance(s, int) and s >= 0 for s in shape):
        raise InvalidInput(f"member {member!r} declares an invalid shape {list(shape)}; {_NPZ_HINT}")
    if dtype.hasobject:
        raise InvalidInput(
            f"member {member!r} holds Python objects, which need pickle and are refused; "
            "store 'class_names' as a string array (numpy dtype 'U')"
        )
    return tuple(shape), dtype, bool(fortran)


def _declared_bytes(shape: tuple[int, ...], dtype: Any) -> int:
    n = int(dtype.itemsize)
    for s in shape:
        n *= s
    return n


def dataset_as_npz(upload: UploadFile) -> UploadFile:
    """The upload itself when it is an .npz (or not a zip at all: ``read_npz_dataset`` says what it
    is), or a new in-memory upload holding the .npz of the images when it is a .zip ImageFolder (one
    folder per class of PNG/JPEG files; ``api.imagefolder`` checks its limits before decoding). A zip
    whose members are all ``.npy`` arrays is an npz; any other zip is an ImageFolder."""
    if not zipfile.is_zipfile(upload.file):
        upload.file.seek(0)
        return upload
    if not looks_like_imagefolder(upload.file):
        return upload
    npz = imagefolder_to_npz(upload.file)
    stem = (upload.filename or "dataset").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return UploadFile(npz, size=len(npz.getbuffer()), filename=f"{stem}.npz")


def read_npz_dataset(path: Path, *, max_array_bytes: int = MAX_DATASET_ARRAY_BYTES) -> dict[str, Any]:
    """Validate an image-classification .npz (``images`` uint8 N,H,W[,C]; ``labels`` N) without pickle
    and without allocating what the file declares: sizes are checked before any array is read."""
    if not zipfile.is_zipfile(path):
        raise UnsupportedMediaType("a dataset must be an .npz file with arrays 'images' and 'labels'")
    with reported_as_invalid("the .npz is corrupt", _NPZ_HINT):
        return _read_npz(path, max_array_bytes)


def _read_npz(path: Path, max_array_bytes: int) -> dict[str, Any]:
    import numpy as np

    entries, cd_bytes = _central_directory(path)
    if entries > MAX_NPZ_MEMBERS or cd_bytes > 64 * 1024:
        raise InvalidInput(
            f"the .npz has {entries} members ({cd_bytes} bytes of directory); a dataset has at most "
            f"{MAX_NPZ_MEMBERS}: 'images', 'labels' and optionally 'class_names'",
            details={"members": entries},
        )
    with zipfile.ZipFile(path) as zf:
        infos = {i.filename.removesuffix(".npy"): i for i in zf.infolist()}
        keys = sorted(infos)
        if not {"images", "labels"} <= set(infos):
            raise InvalidInput(
                f"the .npz needs arrays 'images' and 'labels'; it has {keys}", details={"keys": keys}
            )
        wanted: dict[str, zipfile.ZipInfo] = {
            k: infos[k] for k in ("images", "labels", "class_names") if k in infos
        }
        inflated = sum(i.file_size for i in wanted.values())
        compressed = sum(i.compress_size for i in wanted.values())
        if inflated > max_array_bytes:
            raise PayloadTooLarge(
                f"the .npz inflates to {_gib(inflated)} ({compressed} bytes compressed); a dataset may hold "
                f"at most {_gib(max_array_bytes)} of arrays: upload fewer or smaller images",
                details={"uncompressed_bytes": inflated, "compressed_bytes": compressed},
            )
        for key, info in wanted.items():
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise InvalidInput(
                    f"member {key!r} uses zip compression method {info.compress_type}; only stored and "
                    f"deflate (what numpy writes) are read; {_NPZ_HINT}"
                )

        def header(key: str) -> tuple[tuple[int, ...], Any, int]:
            with zf.open(wanted[key]) as fp:
                shape, dtype, _ = _npy_header(fp, key)
                offset = fp.tell()
            need = _declared_bytes(shape, dtype)
            if need > max_array_bytes:
                raise PayloadTooLarge(
                    f"'{key}' declares shape {list(shape)} of {dtype}, {_gib(need)}; a dataset may hold at "
                    f"most {_gib(max_array_bytes)} of arrays: upload fewer or smaller images",
                    details={"key": key, "shape": list(shape), "declared_bytes": need},
                )
            if offset + need != wanted[key].file_size:
                raise InvalidInput(
                    f"'{key}' declares shape {list(shape)} of {dtype} ({need} bytes) but its member holds "
                    f"{wanted[key].file_size - offset}: the file is truncated or corrupt; {_NPZ_HINT}"
                )
            return shape, dtype, offset

        shape, dtype, _ = header("images")
        if dtype != np.uint8 or len(shape) not in (3, 4):
            raise InvalidInput(
                f"'images' must be uint8 with shape (N, H, W) or (N, H, W, C); got {dtype} {list(shape)}"
            )
        if len(shape) == 4 and shape[3] not in (1, 3):
            raise InvalidInput(f"'images' must have 1 or 3 channels last; got shape {list(shape)}")
        num = shape[0]
        if not 1 <= num <= MAX_DATASET_IMAGES:
            raise InvalidInput(
                f"'images' holds {num} images; a dataset needs between 1 and {MAX_DATASET_IMAGES}"
            )
        if not all(1 <= s <= MAX_SIDE for s in shape[1:3]):
            raise InvalidInput(f"images must be 1 to {MAX_SIDE} pixels high and wide; got {list(shape)}")
        label_shape, label_dtype, _ = header("labels")
        if len(label_shape) != 1 or label_shape[0] != num or label_dtype.kind not in "iu":
            raise InvalidInput(
                f"'labels' must be integers of shape ({num},); got {label_dtype} {list(label_shape)}"
            )
        if "class_names" in wanted:
            names_shape, names_dtype, _ = header("class_names")
            if names_dtype.kind not in "US" or len(names_shape) != 1:
                raise InvalidInput(
                    f"'class_names' must be a 1-D string array; got {names_dtype} {list(names_shape)}"
                )
            if names_shape[0] > MAX_CLASSES or wanted["class_names"].file_size > MAX_CLASS_NAMES_BYTES:
                raise PayloadTooLarge(
                    f"'class_names' holds {names_shape[0]} names in {wanted['class_names'].file_size} bytes; "
                    f"at most {MAX_CLASSES} names and {MAX_CLASS_NAMES_BYTES} bytes are accepted"
                )

        # Sizes are known and bounded: read the small arrays, stream the images without keeping them.
        with zf.open(wanted["labels"]) as fp:
            labels = np.lib.format.read_array(fp, allow_pickle=False, max_header_size=_MAX_NPY_HEADER)
        class_names = None
        if "class_names" in wanted:
            with zf.open(wanted["class_names"]) as fp:
                raw = np.lib.format.read_array(fp, allow_pickle=False, max_header_size=_MAX_NPY_HEADER)
            class_names = [str(c) for c in raw]
        with zf.open(wanted["images"]) as fp:  # every byte present and its CRC right, in 1 MiB chunks
            while fp.read(_CHUNK):
                pass
    if labels.size and labels.min() < 0:
        raise InvalidInput("'labels' must be non-negative class indices")
    num_classes = int(labels.max()) + 1 if labels.size else 0
    if num_classes > MAX_CLASSES:
        raise InvalidInput(
            f"'labels' go up to {num_classes - 1}; class indices must be below {MAX_CLASSES}",
            details={"max_label": num_classes - 1},
        )
    if class_names is not None and len(class_names) < num_classes:
        raise InvalidInput(f"'class_names' has {len(class_names)} names for {num_classes} classes")
    return {
        "num_images": int(num),
        "image_shape": [int(s) for s in shape[1:]],
        "num_classes": num_classes,
        "class_names": class_names,
    }
