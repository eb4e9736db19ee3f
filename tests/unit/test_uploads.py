"""Upload sniffing: safetensors is recognised by its structure, never by guessing from one byte."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save

from api.uploads import read_safetensors_header
from core.errors import InvalidInput, UnsupportedMediaType


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
