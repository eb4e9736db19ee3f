"""core.mda.service without the service: dataset labels → model outputs, the seeded stratified
splits, the archive round trip, and the refusals (mixed normalisations, missing labels, a foreign zip).

The nets are ``vgg_mda`` at random init and the labels are their own predictions (every image counts
as correctly classified), so this runs in seconds and needs no training."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch

from core.errors import InvalidInput
from core.mda.jobs import ComponentJob, CompositionJob
from core.mda.service import SourceModel, StoredDataset, build_component, build_composition, load_archive
from core.zoo.data import bundled_subset_path, prepare
from core.zoo.registry import build_model

MEAN, STD = (0.5,), (0.25,)


def _net_and_data(offset: int = 0) -> tuple[torch.nn.Module, SourceModel, np.ndarray, np.ndarray, list[int]]:
    """A random-init 4-output vgg_mda (BatchNorm statistics taken on the images), 300 bundled
    Fashion-MNIST images labelled by its own predictions + ``offset`` (the dataset's label space),
    and its two most predicted outputs."""
    net = build_model("vgg_mda", num_classes=4, model_kwargs={"in_chans": 1}, seed=2)
    with np.load(bundled_subset_path(), allow_pickle=False) as data:
        images = data["images"][:300]
    x = prepare(images, (1, 32, 32), MEAN, STD)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # a cumulative average over the one pass
    with torch.no_grad():
        net.train()(x)
        pred = net.eval()(x).argmax(1).numpy()
    common = [int(c) for c in np.argsort(-np.bincount(pred, minlength=4), kind="stable")[:2]]
    assert min(int((pred == c).sum()) for c in common) >= 10, np.bincount(pred)
    source = SourceModel("mdl_x", "x", "vgg_mda", 4, (1, 32, 32), MEAN, STD, {"in_chans": 1})
    return net, source, images, pred + offset, common


def test_a_component_maps_dataset_labels_to_outputs_and_round_trips() -> None:
    net, source, images, labels, (p, q) = _net_and_data(offset=5)  # output c is label c + 5 here
    job = ComponentJob(classes=[q, p], class_labels=[q + 5, p + 5], min_samples=2, seed=4)
    built = build_component(net, source, StoredDataset(images, labels, "ds_x"), job)
    res = built.result
    n = int(np.isin(labels, [p + 5, q + 5]).sum())
    assert res["split"]["fit"] + res["split"]["eval"] == n and res["eval_images"] == res["split"]["eval"]
    assert res["class_labels"] == [q + 5, p + 5] and res["classes"] == [q, p]
    # labels map to the right outputs: the base model restricted to them is right on every image
    assert res["accuracy_base"] == res["accuracy_base_restricted"] == 1.0
    assert res["params_after"] < res["params_before"]
    loaded = load_archive(built.archive)
    assert loaded.manifest["source_model"]["id"] == "mdl_x" and loaded.manifest["class_labels"] == [
        q + 5,
        p + 5,
    ]
    assert (
        loaded.manifest["mean"] == list(MEAN)
        and loaded.manifest["weights"]["sha256"] == res["weights_sha256"]
    )
    names = set(zipfile.ZipFile(io.BytesIO(built.archive)).namelist())
    assert names == {"model.safetensors", "spec.json", "manifest.json", "README.md"}
    x = prepare(images[:5], (1, 32, 32), MEAN, STD)
    with torch.no_grad():
        kept = loaded.component.model(x)
    assert kept.shape == (5, 2)  # only the two kept logits
    again = build_component(net, source, StoredDataset(images, labels, "ds_x"), job)
    assert (
        again.result["split"] == res["split"]
        and again.result["samples_per_class"] == res["samples_per_class"]
    )


def test_a_label_without_images_is_refused_with_the_label() -> None:
    net, source, images, labels, _ = _net_and_data()
    assert 7 not in labels
    with pytest.raises(InvalidInput, match=r"labels \[7\]"):
        build_component(
            net, source, StoredDataset(images, labels), ComponentJob(classes=[0], class_labels=[7])
        )


def test_out_of_range_classes_are_refused_before_any_work() -> None:
    net, source, images, labels, _ = _net_and_data()
    with pytest.raises(InvalidInput, match="do not exist"):
        build_component(net, source, StoredDataset(images, labels), ComponentJob(classes=[0, 4]))


def test_composition_reports_both_scores_and_refuses_mixed_normalisations() -> None:
    net, source, images, labels, (p, q) = _net_and_data()
    a = build_component(net, source, StoredDataset(images, labels), ComponentJob(classes=[p], min_samples=2))
    b = build_component(net, source, StoredDataset(images, labels), ComponentJob(classes=[q], min_samples=2))
    out = build_composition(
        [a.archive, b.archive], ["a", "b"], StoredDataset(images, labels), CompositionJob(classes=[q, p])
    )
    res = out.result
    assert res["class_labels"] == [q, p] and res["max_abs_diff"] <= 1e-5
    assert res["score1"] is not None and res["score1_unscaled"] is not None and res["score2"] is None
    assert res["split"]["validation"] + res["split"]["eval"] == int(np.isin(labels, [p, q]).sum())
    assert [c["id"] for c in res["components"]] == ["a", "b"]
    assert load_archive(out.archive).manifest["scales"] == res["scales"]
    tuned = build_composition(
        [a.archive, b.archive], ["a", "b"], StoredDataset(images, labels), CompositionJob(finetune_epochs=1)
    ).result
    assert tuned["score2"] is not None and tuned["finetune_data"] == "validation"
    assert tuned["score1"] == res["score1"] and tuned["split"] == res["split"]  # Score1 is before tuning
    other = SourceModel("mdl_y", "y", "vgg_mda", 4, (1, 32, 32), (0.4,), STD, {"in_chans": 1})
    c = build_component(net, other, StoredDataset(images, labels), ComponentJob(classes=[q], min_samples=2))
    with pytest.raises(InvalidInput, match="normalis"):
        build_composition([a.archive, c.archive], ["a", "c"], StoredDataset(images, labels), CompositionJob())


def test_a_foreign_zip_is_not_an_archive() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("model.safetensors", b"not weights")
    with pytest.raises(InvalidInput, match="not a Model LEGO archive"):
        load_archive(buffer.getvalue())
