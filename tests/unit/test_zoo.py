"""The zoo: npz loading and preparation, the small registered architectures, training the tiny zoo,
reloading it from safetensors, and dissecting every zoo model (issue 3 done-when 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from safetensors import safe_open

import core.zoo  # noqa: F401  (registers the zoo architectures)
from core.dissect import dissect
from core.errors import InvalidInput
from core.metrics import accuracy
from core.zoo.data import bundled_subset_path, load_npz, prepare, stratified_split
from core.zoo.train import (
    TINY,
    ZOO_RECIPES,
    ZooEntry,
    load_zoo_model,
    read_zoo,
    sha256_file,
    task_split,
    train_zoo,
)

# --- data ------------------------------------------------------------------------------------------


def test_load_bundled_subset() -> None:
    images, labels = load_npz(bundled_subset_path())
    assert images.dtype == np.uint8 and images.shape == (3000, 28, 28)
    assert labels.dtype == np.int64 and np.bincount(labels).tolist() == [300] * 10


def test_load_full_fashion(fashion_npz: Path) -> None:
    images, labels = load_npz(fashion_npz)
    assert images.shape == (70000, 28, 28) and np.bincount(labels).tolist() == [7000] * 10


def _write(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"pixels": np.zeros((2, 4, 4), np.uint8), "labels": np.zeros(2, np.int64)}, "lacks the key"),
        ({"images": np.zeros((2, 4, 4), np.float32), "labels": np.zeros(2, np.int64)}, "must be uint8"),
        ({"images": np.zeros((2, 4, 4, 2), np.uint8), "labels": np.zeros(2, np.int64)}, "C = 1 or 3"),
        ({"images": np.zeros((2, 4), np.uint8), "labels": np.zeros(2, np.int64)}, "N×H×W"),
        ({"images": np.zeros((2, 4, 4), np.uint8), "labels": np.zeros(3, np.int64)}, "one integer per image"),
        ({"images": np.zeros((2, 4, 4), np.uint8), "labels": np.zeros(2, np.float32)}, "must be integers"),
        ({"images": np.zeros((2, 4, 4), np.uint8), "labels": np.array([0, -1])}, "non-negative"),
        (
            {"images": np.zeros((2, 4, 4), np.uint8), "labels": np.array([0, "a"], dtype=object)},
            "object arrays",
        ),
    ],
)
def test_load_npz_rejects_bad_content(tmp_path: Path, arrays: dict[str, np.ndarray], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        load_npz(_write(tmp_path / "bad.npz", **arrays))


def test_load_npz_rejects_non_archives(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such dataset"):
        load_npz(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(InvalidInput, match="not a readable"):
        load_npz(junk)


def test_prepare_resizes_converts_and_normalises() -> None:
    gray = np.full((2, 28, 28), 51, np.uint8)  # 0.2 after scaling
    x = prepare(gray, (1, 32, 32), mean=0.1, std=0.5)
    assert x.dtype == torch.float32 and x.shape == (2, 1, 32, 32)
    assert torch.allclose(x, torch.full_like(x, (0.2 - 0.1) / 0.5), atol=1e-5)
    rgb = prepare(gray, (3, 16, 16), mean=(0.0, 0.1, 0.2), std=(1.0, 1.0, 1.0))
    assert rgb.shape == (2, 3, 16, 16)
    assert torch.allclose(rgb[:, 0] - rgb[:, 2], torch.full((2, 16, 16), 0.2), atol=1e-5)
    colour = np.zeros((1, 8, 8, 3), np.uint8)
    colour[..., 1] = 255  # pure green -> luminance 0.587
    assert torch.allclose(prepare(colour, (1, 8, 8), 0.0, 1.0), torch.full((1, 1, 8, 8), 0.587), atol=1e-5)
    with pytest.raises(InvalidInput, match="std must be positive"):
        prepare(gray, (1, 28, 28), mean=0.0, std=0.0)


def test_stratified_split_is_seeded_disjoint_and_balanced() -> None:
    labels = np.repeat(np.arange(4), [40, 40, 20, 100])
    train, held = stratified_split(labels, 0.25, seed=3)
    again_train, again_held = stratified_split(labels, 0.25, seed=3)
    assert np.array_equal(train, again_train) and np.array_equal(held, again_held)
    assert not np.array_equal(held, stratified_split(labels, 0.25, seed=4)[1])
    assert set(train).isdisjoint(held) and len(train) + len(held) == len(labels)
    assert np.bincount(labels[held]).tolist() == [10, 10, 5, 25]
    capped_train, capped_held = stratified_split(labels, 0.25, seed=3, max_per_split=(None, 10))
    assert np.bincount(labels[capped_held], minlength=4).tolist() == [2, 2, 1, 5]
    with pytest.raises(InvalidInput):
        stratified_split(labels, 1.0, seed=0)


# --- architectures and the tiny zoo ------------------------------------------------------------------


def test_recipes_cover_six_small_families() -> None:
    families = {recipe.arch for recipe in ZOO_RECIPES}
    assert {
        "resnet_cifar",
        "vgg_cifar",
        "mobilenetv2_cifar",
        "mobilenext_cifar",
        "vit_cifar",
        "convnext_cifar",
    } <= families
    assert len({recipe.name for recipe in ZOO_RECIPES}) == len(ZOO_RECIPES)
    for recipe in ZOO_RECIPES:
        assert recipe.arch in timm.list_models()
        model = timm.create_model(recipe.arch, pretrained=False, in_chans=1, num_classes=10, **recipe.kwargs)
        assert sum(p.numel() for p in model.parameters()) <= 1_000_000, recipe.name


@pytest.fixture(scope="module")
def zoo(tiny_zoo: Path) -> tuple[Path, list[ZooEntry]]:
    """The session's tiny zoo (tests/conftest.py) and its entries."""
    return tiny_zoo, read_zoo(tiny_zoo / "zoo.json")


def test_tiny_zoo_writes_safetensors_and_description(zoo: tuple[Path, list[ZooEntry]]) -> None:
    out, entries = zoo
    assert [e.name for e in entries] == [r.name for r in ZOO_RECIPES]
    assert read_zoo(out / "zoo.json") == entries
    document = json.loads((out / "zoo.json").read_text())
    assert document["dataset"]["file"] == "fashion_subset.npz"
    for entry in entries:
        weights = out / entry.weights_file
        assert weights.suffix == ".safetensors" and sha256_file(weights) == entry.weights_sha256
        with safe_open(str(weights), framework="pt") as handle:
            header = json.loads(handle.metadata()["reassembly"])
        assert header == {"format": "reassembly-zoo/1", "arch": entry.arch, "kwargs": entry.kwargs}
        assert 0.0 <= entry.accuracy <= 1.0 and entry.train_seconds > 0
        assert entry.num_classes == len(entry.classes) == len(entry.class_names)
        assert entry.train_images == TINY.max_train_images and entry.eval_images == TINY.max_eval_images
    assert not list(out.glob("*.tmp"))
    tasks = {e.classes for e in entries}
    assert len(tasks) >= 2  # heterogeneous source tasks


def test_zoo_models_reload_and_reproduce_their_accuracy(zoo: tuple[Path, list[ZooEntry]]) -> None:
    out, entries = zoo
    images, labels = load_npz(bundled_subset_path())
    for entry in entries:
        model = load_zoo_model(entry.to_dict(), out / entry.weights_file)
        classes, _, held = task_split(
            labels,
            entry.classes,
            split_seed=0,
            model_seed=entry.seed,
            max_train_images=None,
            max_eval_images=TINY.max_eval_images,
        )
        x = prepare(images[held], entry.input_size, entry.mean, entry.std)
        y = torch.from_numpy(np.searchsorted(classes, labels[held]))
        assert round(accuracy(model, x, y), 4) == entry.accuracy, entry.name


def test_every_zoo_model_dissects_exactly(zoo: tuple[Path, list[ZooEntry]]) -> None:
    out, entries = zoo
    counts = {}
    for entry in entries:
        model = load_zoo_model(entry, out / entry.weights_file)
        d = dissect(model, entry.input_size)
        assert d.max_abs_error <= 1e-5, entry.name
        assert d.stem_params + sum(n.params for n in d.nodes) + d.head_params == entry.params
        counts[entry.arch] = len(d.nodes)
    assert counts == {
        "resnet_cifar": 8,
        "vgg_cifar": 5,
        "mobilenetv2_cifar": 11,  # depth_multiplier 0.5: repeats (1, 1, 2, 2, 2, 2, 1)
        "mobilenext_cifar": 20,
        "vit_cifar": 6,
        "convnext_cifar": 10,  # 6 blocks + 4 downsamples (the 2x2 patch stem leaves stage 0 one)
    }


def test_load_zoo_model_refuses_wrong_weights(zoo: tuple[Path, list[ZooEntry]]) -> None:
    out, entries = zoo
    first, second = entries[0], entries[1]
    with pytest.raises(InvalidInput, match="sha256"):
        load_zoo_model(first, out / second.weights_file)
    forged = ZooEntry.from_dict({**first.to_dict(), "weights_sha256": second.weights_sha256})
    with pytest.raises(InvalidInput, match="missing") as caught:
        load_zoo_model(forged, out / second.weights_file)
    assert caught.value.details["missing"] and caught.value.details["unexpected"]
    assert caught.value.details["mismatched"]  # both have an "fc.weight", of other shapes
    with pytest.raises(InvalidInput, match="no weights file"):
        load_zoo_model(first, out / "absent.safetensors")


def test_training_is_seeded(tmp_path: Path) -> None:
    recipe = [r for r in ZOO_RECIPES if r.arch == "vgg_cifar"]
    threads = torch.get_num_threads()
    seen: list[list[float]] = [[], []]
    runs = [
        train_zoo(
            bundled_subset_path(),
            tmp_path / str(i),
            epochs=1,
            max_train_images=96,
            max_eval_images=32,
            recipes=recipe,
            threads=1,
            progress=lambda fraction, message="", i=i: seen[i].append(fraction),
        )
        for i in range(2)
    ]
    assert runs[0][0].weights_sha256 == runs[1][0].weights_sha256
    for fractions in seen:  # progress reported in order, up to completion
        assert fractions and fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert torch.get_num_threads() == threads  # the threads setting is restored
