"""ImageFolder datasets (issue 15, done-when 5): a ``.zip`` with one folder per class of PNG/JPEG files
becomes the same stored npz as an uploaded npz of the same images; unsafe or oversized zips are a 4xx
with a reason and leave nothing in the artifact store or anywhere else.

Real files throughout: the images are Fashion-MNIST images from the bundled subset, written as PNG
and JPEG by Pillow; the zips are built with ``zipfile`` as a zip tool would write them.
"""

from __future__ import annotations

import io
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from core.settings import Settings
from core.zoo.data import bundled_subset_path

PER_CLASS = 3
CLASSES = 4


def _fashion() -> tuple[np.ndarray, np.ndarray]:
    with np.load(bundled_subset_path(), allow_pickle=False) as z:
        return z["images"], z["labels"]


def _class_images() -> dict[str, list[np.ndarray]]:
    """PER_CLASS images of each of the first CLASSES Fashion-MNIST classes, by a folder-safe name."""
    from core.zoo.data import FASHION_CLASSES

    images, labels = _fashion()
    out: dict[str, list[np.ndarray]] = {}
    for c in range(CLASSES):
        name = FASHION_CLASSES[c].replace("/", "_")
        out[name] = [np.asarray(im).reshape(28, 28) for im in images[labels == c][:PER_CLASS]]
    return out


def _encode(pixels: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _zip(members: dict[str, bytes], *, symlinks: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = (stat.S_IFLNK | 0o777) if name in symlinks else (stat.S_IFREG | 0o644)
            info.external_attr = mode << 16
            info.create_system = 3  # Unix, so the mode bits are meaningful (as Info-ZIP writes them)
            zf.writestr(info, data)
    return buf.getvalue()


def _upload(client: TestClient, name: str, data: bytes, filename: str = "folder.zip"):  # type: ignore[no-untyped-def]
    return client.post("/v1/datasets", files={"file": (filename, data)}, data={"name": name})


def _download_npz(client: TestClient, artifact_id: str) -> dict[str, np.ndarray]:
    r = client.get(f"/v1/artifacts/{artifact_id}")
    assert r.status_code == 200, r.text
    with np.load(io.BytesIO(r.content), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _store_files(settings: Settings) -> list[Path]:
    root = settings.resolved_artifact_root
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The process' temp folder moved to an empty folder of this test's own, so "nothing was written
    to the temp folder" is checked without other processes' files in /tmp."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    yield tmp


def test_png_imagefolder_round_trips_to_the_same_npz(client: TestClient) -> None:
    by_class = _class_images()
    members = {
        f"fashion/{cls}/img_{i:02d}.png": _encode(px, "PNG")
        for cls, images in by_class.items()
        for i, px in enumerate(images)
    }
    members["fashion/.DS_Store"] = b"\x00\x00\x00\x01Bud1"  # what Finder adds: skipped
    r = _upload(client, "if-png", _zip(members))
    assert r.status_code == 201, r.text
    ds = r.json()

    # The npz of the same images, in the ImageFolder order: sorted class folders, sorted file names.
    names = sorted(by_class)
    expected_images = np.stack([px for cls in names for px in by_class[cls]])
    expected_labels = np.repeat(np.arange(len(names)), PER_CLASS)
    npz = io.BytesIO()
    np.savez(npz, images=expected_images, labels=expected_labels, class_names=np.array(names))
    r = _upload(client, "if-png-npz", npz.getvalue(), filename="same.npz")
    assert r.status_code == 201, r.text
    reference = r.json()

    for key in ("num_images", "image_shape", "num_classes", "class_names"):
        assert ds[key] == reference[key], key
    assert ds["class_names"] == names
    assert ds["image_shape"] == [28, 28]
    stored = _download_npz(client, ds["artifact_id"])
    ref = _download_npz(client, reference["artifact_id"])
    assert stored["images"].dtype == np.uint8
    np.testing.assert_array_equal(stored["images"], ref["images"])  # PNG is lossless
    np.testing.assert_array_equal(stored["labels"], ref["labels"])
    assert [str(c) for c in stored["class_names"]] == [str(c) for c in ref["class_names"]]


def test_jpeg_and_png_imagefolder_has_the_labels_and_shape_of_the_npz(client: TestClient) -> None:
    by_class = _class_images()
    members: dict[str, bytes] = {}
    for cls, images in by_class.items():
        for i, px in enumerate(images):
            fmt, ext = ("JPEG", "jpg") if i % 2 == 0 else ("PNG", "png")
            members[f"{cls}/img_{i:02d}.{ext}"] = _encode(px, fmt)  # no top folder this time
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:  # plain writestr: no file type in the mode bits (0o600 only)
        for name, data in members.items():
            zf.writestr(name, data)
    r = _upload(client, "if-mixed", buf.getvalue())
    assert r.status_code == 201, r.text
    ds = r.json()
    names = sorted(by_class)
    assert ds["class_names"] == names
    assert ds["num_images"] == CLASSES * PER_CLASS and ds["num_classes"] == CLASSES
    stored = _download_npz(client, ds["artifact_id"])
    assert stored["images"].shape == (CLASSES * PER_CLASS, 28, 28)
    np.testing.assert_array_equal(stored["labels"], np.repeat(np.arange(CLASSES), PER_CLASS))
    assert [str(c) for c in stored["class_names"]] == names
    order = [(cls, i) for cls in names for i in range(PER_CLASS)]
    for row, (cls, i) in enumerate(order):  # pixels only for the lossless PNGs
        if i % 2 == 1:
            np.testing.assert_array_equal(stored["images"][row], by_class[cls][i])
        else:  # JPEG at quality 95: close, not equal
            diff = np.abs(stored["images"][row].astype(int) - by_class[cls][i].astype(int))
            assert diff.mean() < 8


def test_rgb_images_are_stored_with_three_channels(client: TestClient) -> None:
    rng = np.random.default_rng(0)
    members = {}
    for cls in ("cat", "dog"):
        for i in range(2):
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), mode="RGB").save(buf, "PNG")
            members[f"{cls}/{i}.png"] = buf.getvalue()
    r = _upload(client, "if-rgb", _zip(members))
    assert r.status_code == 201, r.text
    assert r.json()["image_shape"] == [12, 16, 3]
    assert r.json()["class_names"] == ["cat", "dog"]


def _png(size: tuple[int, int] = (28, 28), mode: str = "L") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, format="PNG")
    return buf.getvalue()


def _bomb_png() -> bytes:
    """A real 10,000 × 10,000-pixel PNG written by Pillow: 100 megapixels in a few kilobytes."""
    buf = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _inner_zip() -> bytes:
    return _zip({"a/x.png": _png()})


def _plus(member: str, data: bytes, **kw: tuple[str, ...]) -> bytes:
    """A valid one-image ImageFolder plus one bad member."""
    return _zip({"a/x.png": _png(), member: data}, **kw)


REFUSED = {
    "dotdot": (lambda: _plus("../escaped.png", _png()), 422, "unsafe_path"),
    "dotdot_inside": (lambda: _plus("a/../../escaped.png", _png()), 422, "unsafe_path"),
    "absolute": (lambda: _plus("/tmp/escaped.png", _png()), 422, "unsafe_path"),
    "symlink": (lambda: _plus("a/link.png", b"/etc/passwd", symlinks=("a/link.png",)), 422, "symlink"),
    "not_an_image": (lambda: _plus("a/notes.txt", b"hello"), 415, "not_an_image"),
    "image_in_name_only": (lambda: _plus("a/fake.png", b"#!/bin/sh\necho hi\n"), 415, "not_an_image"),
    "nested_zip": (lambda: _plus("a/more.zip", _inner_zip()), 415, "nested_archive"),
    "ten_thousand_square": (lambda: _plus("a/huge.png", _bomb_png()), 413, "too_many_pixels"),
    "ratio_bomb": (lambda: _plus("a/zeros.png", bytes(64 * 1024**2)), 413, "compression_ratio"),
    "mixed_sizes": (lambda: _plus("b/y.png", _png((32, 28))), 422, "mixed_sizes"),
    "flat": (lambda: _zip({"x.png": _png(), "y.png": _png()}), 422, "layout"),
    "sixteen_bit": (lambda: _zip({"a/x.png": _png(mode="I;16")}), 422, "pixel_mode"),
}


SAYS = {
    "unsafe_path": "unsafe path",
    "symlink": "symbolic link",
    "not_an_image": "not a PNG or JPEG image",
    "nested_archive": "nested archives are not read",
    "too_many_pixels": "at most 4096×4096",
    "compression_ratio": "decompression bomb",
    "mixed_sizes": "not all one size",
    "layout": "class folder",
    "pixel_mode": "16-bit",
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_unsafe_or_oversized_imagefolder_is_4xx_and_writes_nothing(
    case: str, client: TestClient, service_settings: Settings, private_tmp: Path
) -> None:
    make, status, reason = REFUSED[case]
    data = make()
    before = _store_files(service_settings)
    r = _upload(client, f"bad-{case.replace('_', '-')}", data)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["details"]["reason"] == reason, error
    assert SAYS[reason] in error["message"], error["message"]  # what was wrong ...
    assert any(
        w in error["message"]
        for w in ("zip ", "remove", "resize", "downscale", "save it", "rename", "put the")
    ), (
        error["message"]  # ... and what to do
    )
    assert _store_files(service_settings) == before, "a refused ImageFolder left a file in the store"
    assert list(private_tmp.rglob("*")) == [], "a refused ImageFolder left a file in the temp folder"
    root = service_settings.resolved_artifact_root
    for where in (root, root.parent, root.parent.parent, Path.cwd(), private_tmp.parent):
        assert not (where / "escaped.png").exists()
    assert not Path("/tmp/escaped.png").exists()
    assert client.get("/v1/datasets").status_code == 200
    names = [d["name"] for d in client.get("/v1/datasets", params={"limit": 200}).json()["items"]]
    assert f"bad-{case.replace('_', '-')}" not in names


def test_accepted_imagefolder_leaves_nothing_in_the_temp_folder(
    client: TestClient, private_tmp: Path
) -> None:
    r = _upload(client, "if-tmp", _zip({"a/x.png": _png(), "b/y.png": _png()}))
    assert r.status_code == 201, r.text
    assert list(private_tmp.rglob("*")) == []


def test_npz_uploads_are_still_read_as_npz(client: TestClient) -> None:
    """A zip of .npy members is an npz, with the npz reader's own messages."""
    buf = io.BytesIO()
    np.savez(buf, x=np.zeros(3), y=np.zeros(3))
    r = _upload(client, "npz-wrong-keys", buf.getvalue(), filename="d.npz")
    assert r.status_code == 422
    assert "'images' and 'labels'" in r.json()["error"]["message"]


def test_fuzz_imagefolder_is_accepted_or_4xx_with_reason() -> None:
    """Byte-mutated and truncated ImageFolder zips: an npz, or a 4xx ``ReassemblyError`` with a message —
    never another exception (which the API would answer with a 500)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from api.errors import status_for
    from api.imagefolder import imagefolder_to_npz
    from core.errors import ReassemblyError

    base = _zip(
        {f"{c}/{i}.png": _png() for c in ("a", "b") for i in range(2)}
        | {"b/2.jpg": _encode(np.zeros((28, 28), np.uint8), "JPEG")}
    )
    outcomes: dict[str, int] = {}

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(
        cuts=st.lists(st.tuples(st.integers(0, len(base) - 1), st.integers(0, 255)), min_size=1, max_size=8),
        truncate=st.one_of(st.none(), st.integers(0, len(base))),
    )
    def run(cuts: list[tuple[int, int]], truncate: int | None) -> None:
        data = bytearray(base)
        for at, value in cuts:
            data[at] = value
        if truncate is not None:
            data = data[:truncate]
        try:
            imagefolder_to_npz(io.BytesIO(bytes(data)))
            outcomes["accepted"] = outcomes.get("accepted", 0) + 1
        except ReassemblyError as exc:
            status = status_for(exc)
            assert 400 <= status < 500 and exc.message, (status, exc.message)
            outcomes[str(status)] = outcomes.get(str(status), 0) + 1

    run()
    print("imagefolder fuzz outcomes:", outcomes)
    assert sum(outcomes.values()) >= 200 and len(outcomes) >= 2
