"""Upload checks: safetensors is recognised by its structure (never by guessing from one byte) and parsed by
the safetensors package; npz datasets are sized from their zip directory and .npy headers before reading."""

from __future__ import annotations

import json
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save

from api.uploads import read_npz_dataset, read_safetensors_header
from core.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType


def _safetensors_with_header_length_low_byte(low: int) -> bytes:
    for pad in range(0, 4096):
        blob = save({"w": torch.zeros(3)}, metadata={"pad": "x" * pad})
        if struct.unpack("<Q", blob[:8])[0] % 256 == low:
            return blob
    raise AssertionError("no padding gave the wanted header length")


def test_safetensors_whose_length_starts_like_a_pickle_is_accepted(tmp_path: Path) -> None:
    blob = _safetensors_with_header_length_low_byte(0x80)  # first byte 0x80, like a pickle's
    path = tmp_path / "w.safetensors"
    path.write_bytes(blob)
    assert set(read_safetensors_header(path)) == {"w", "__metadata__"}


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (pickle.dumps({"w": [1, 2]}), "a pickle"),
        (b"PK\x03\x04" + b"\0" * 64, "zip"),
        (b"hello world!", "unknown"),
    ],
)
def test_other_formats_are_refused_with_what_they_are(tmp_path: Path, payload: bytes, kind: str) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(payload)
    with pytest.raises(UnsupportedMediaType, match=kind):
        read_safetensors_header(path)


def test_truncated_safetensors_is_refused(tmp_path: Path) -> None:
    blob = save({"w": torch.zeros(100)})
    path = tmp_path / "w.safetensors"
    path.write_bytes(blob[:-50])
    with pytest.raises(InvalidInput, match="truncated"):
        read_safetensors_header(path)


def test_safetensors_header_is_read_by_the_safetensors_package(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    path.write_bytes(
        save({"a": torch.zeros(2, 3), "b": torch.ones(4, dtype=torch.bfloat16)}, metadata={"k": "v"})
    )
    header = read_safetensors_header(path)
    assert header["a"] == {"dtype": "F32", "shape": [2, 3]}
    assert header["b"] == {"dtype": "BF16", "shape": [4]}
    assert header["__metadata__"] == {"k": "v"}


def test_overlapping_offsets_are_refused_with_the_packages_reason(tmp_path: Path) -> None:
    raw = json.dumps({"w": {"dtype": "F32", "shape": [3], "data_offsets": [4, 16]}}).encode()
    path = tmp_path / "w.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(16))
    with pytest.raises(InvalidInput, match="invalid offset"):
        read_safetensors_header(path)


def _npz_file(tmp_path: Path, **arrays: np.ndarray) -> Path:
    path = tmp_path / "d.npz"
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]
    return path


def test_npz_limit_is_checked_from_sizes_before_reading(tmp_path: Path) -> None:
    path = _npz_file(tmp_path, images=np.zeros((64, 32, 32), np.uint8), labels=np.zeros(64, np.int64))
    assert path.stat().st_size < 10_000  # zeros compress ~60x
    info = read_npz_dataset(path)
    assert info["num_images"] == 64 and info["image_shape"] == [32, 32]
    with pytest.raises(PayloadTooLarge, match="inflates to"):
        read_npz_dataset(path, max_array_bytes=32 * 32 * 64 - 1)


def test_npz_whose_header_lies_about_its_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w") as zf:
        with zf.open("images.npy", "w") as f:  # declares 10x8x8 but holds 4x8x8
            np.lib.format.write_array_header_1_0(
                f, {"descr": "|u1", "fortran_order": False, "shape": (10, 8, 8)}
            )
            f.write(bytes(4 * 64))
        with zf.open("labels.npy", "w") as f:
            np.lib.format.write_array(f, np.zeros(10, np.int64))
    with pytest.raises(InvalidInput, match="truncated or corrupt"):
        read_npz_dataset(path)


def test_npz_with_many_members_is_refused_before_zipfile_lists_them(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(100):
            zf.writestr(f"m{i}.npy", b"")
    with pytest.raises(InvalidInput, match="100 members"):
        read_npz_dataset(path)


def test_npz_labels_beyond_the_class_limit_are_refused(tmp_path: Path) -> None:
    path = _npz_file(tmp_path, images=np.zeros((2, 8, 8), np.uint8), labels=np.array([0, 2**62]))
    with pytest.raises(InvalidInput, match="class indices must be below"):
        read_npz_dataset(path)
