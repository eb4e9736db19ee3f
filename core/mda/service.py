"""Model LEGO as the service runs it: dataset arrays and registered models in, a zip archive and a
JSON-able result out. No database, no HTTP: the job handlers read the rows and store what this returns.

Data rule (as the assembly pipeline's "three splits, one rule"):

- a **component** job keeps the dataset's images of the requested labels, maps each label to the
  model's output index, and splits them seeded and stratified into *fit* (the samples that drive
  the contributions are chosen only here) and *eval* (Base vs Disa. accuracy, never used to choose);
- a **composition** job splits the scaling dataset's images of the components' labels into
  *validation* (parameter scaling, and the fine-tuning data when ``finetune_epochs`` > 0) and *eval*
  (Score1/Score2, never used to choose anything).

Images are decoded, resized and normalised as the model was registered (``core.device.prepare_on``,
the numbers of ``core.zoo.data.prepare``) on the CPU; the entry points move each batch to ``device``.

Archive (``.zip``): ``model.safetensors`` (weights; the spec in its header too), ``spec.json`` (the
structure, see ``core.mda.spec``), ``manifest.json`` (source model, classes, labels, thresholds,
normalisation, weights sha256, metrics) and ``README.md`` (a short model card). It loads standalone
with ``load_archive`` or ``core.mda.checkpoint.load_component('model.safetensors', 'spec.json')``.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from core.device import prepare_on
from core.errors import InvalidInput
from core.flops import count_flops, count_params
from core.mda.checkpoint import Component, load_component, save_component
from core.mda.entry import compose, make_component
from core.mda.jobs import ComponentJob, CompositionJob
from core.mda.request import ComponentRequest, CompositionRequest
from core.mda.samples import predict
from core.progress import Progress, no_progress
from core.zoo.data import stratified_split

ARCHIVE_FORMAT = "reassembly-mda-archive/1"
WEIGHTS, SPEC, MANIFEST, README = "model.safetensors", "spec.json", "manifest.json", "README.md"


@dataclass(frozen=True)
class SourceModel:
    """A registered model as a component's source: how it is built and what its inputs look like."""

    id: str
    name: str
    architecture: str
    num_classes: int
    input_size: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    weights_sha256: str | None = None

    def arch_kwargs(self) -> dict[str, Any]:
        return {**self.model_kwargs, "num_classes": self.num_classes}


@dataclass(frozen=True)
class StoredDataset:
    """A dataset as the service stores it: uint8 images, labels in its own label space, its id and
    class names (both only named in manifests and results)."""

    images: np.ndarray
    labels: np.ndarray
    id: str | None = None
    class_names: Sequence[str] | None = None


@dataclass
class Built:
    """What a job stores: the archive's bytes and the result written on the resource's row."""

    archive: bytes
    result: dict[str, Any]


@dataclass
class LoadedArchive:
    component: Component
    manifest: dict[str, Any]


def _prepare(
    images: np.ndarray, size: Sequence[int], mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    c, h, w = (int(v) for v in size)
    return prepare_on(images, (c, h, w), mean, std, "cpu")


def _split(
    labels: np.ndarray, fraction: float, seed: int, wanted: Sequence[int], what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the images labelled one of ``wanted``, split seeded and stratified into
    (kept, held out); every wanted label needs at least two images (one on each side)."""
    counts = {c: int((labels == c).sum()) for c in wanted}
    short = {c: n for c, n in counts.items() if n < 2}
    if short:
        raise InvalidInput(
            f"the {what} dataset has too few images of labels {sorted(short)} ({short}); each label "
            "needs at least 2 images (one for each split)",
            details={"images_per_label": {str(k): v for k, v in counts.items()}},
        )
    idx = np.flatnonzero(np.isin(labels, np.asarray(list(wanted))))
    kept, held = stratified_split(labels[idx], fraction, seed)
    return idx[kept], idx[held]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _zip(component: Component, manifest: dict[str, Any], card: str) -> tuple[bytes, str]:
    """The archive's bytes and its weights' sha256 (also written into the manifest)."""
    with tempfile.TemporaryDirectory() as tmp:
        weights, spec = Path(tmp) / WEIGHTS, Path(tmp) / SPEC
        digest = save_component(component, weights, spec)
        manifest = {**manifest, "weights": {"file": WEIGHTS, "sha256": digest}, "spec": SPEC}
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST, json.dumps(manifest, indent=2, allow_nan=False) + "\n")
            zf.writestr(README, card)
            zf.write(spec, SPEC)
            zf.write(weights, WEIGHTS)
    return buffer.getvalue(), digest


def load_archive(data: bytes, device: str | torch.device = "cpu") -> LoadedArchive:
    """A component or composition archive back as a runnable network and its manifest. Only the
    known members are read (no extraction of client-chosen paths)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf, tempfile.TemporaryDirectory() as tmp:
            manifest = json.loads(zf.read(MANIFEST))
            for name in (WEIGHTS, SPEC):
                (Path(tmp) / name).write_bytes(zf.read(name))
            component = load_component(Path(tmp) / WEIGHTS, Path(tmp) / SPEC, device)
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"not a Model LEGO archive ({MANIFEST}, {SPEC}, {WEIGHTS}): {exc}") from exc
    if manifest.get("format") != ARCHIVE_FORMAT:
        found = manifest.get("format")
        raise InvalidInput(f"the archive's manifest is not {ARCHIVE_FORMAT} (format={found!r})")
    return LoadedArchive(component, manifest)


def _card(title: str, lines: list[str], manifest: dict[str, Any]) -> str:
    body = [
        "---",
        "library_name: timm",
        "pipeline_tag: image-classification",
        "tags:",
        "- image-classification",
        "- model-lego",
        "---",
        "",
        f"# {title}",
        "",
        *lines,
        "",
        f"Classes (output order): {manifest['class_labels']}"
        + (f" = {manifest['class_names']}" if manifest.get("class_names") else ""),
        f"Input: {manifest['input_size']} normalised with mean {manifest['mean']}, std {manifest['std']}.",
        "",
        "Load it without pickle:",
        "",
        "```python",
        "from core.mda.checkpoint import load_component",
        f"net = load_component('{WEIGHTS}', '{SPEC}').model  # outputs: the classes above, in order",
        "```",
        "",
    ]
    return "\n".join(body)


def build_component(
    model: nn.Module,
    source: SourceModel,
    data: StoredDataset,
    job: ComponentJob,
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
    name: str = "component",
) -> Built:
    """The component of ``job.classes`` of ``model`` (registered as ``source``), its archive and result.

    ``data.labels`` are the dataset's labels; ``job.labels()`` says which dataset label each kept
    output is."""
    images, labels, dataset_id, class_names = data.images, data.labels, data.id, data.class_names
    problem = job.class_problem(source.num_classes)
    if problem:
        raise InvalidInput(problem)
    wanted = job.labels()
    fit, held = _split(labels, job.eval_fraction, job.seed, wanted, "component's")
    to_output = np.full(int(labels.max()) + 1 if len(labels) else 0, -1, dtype=np.int64)
    to_output[wanted] = job.classes
    request = ComponentRequest(
        classes=job.classes,
        class_labels=wanted,
        arch=source.architecture,
        arch_kwargs=source.arch_kwargs(),
        source="timm",
        input_size=source.input_size,
        thresholds=job.thresholds,
        sample_fraction=job.sample_fraction,
        min_samples=job.min_samples,
        seed=job.seed,
        extra={"model_id": source.id, "dataset_id": dataset_id, "mean": [*source.mean], "std": [*source.std]},
    )
    prep = [_prepare(images[i], source.input_size, source.mean, source.std) for i in (fit, held)]
    out = make_component(
        model, prep[0], torch.from_numpy(to_output[labels[fit]]), request, device, progress,
        eval_images=prep[1], eval_labels=torch.from_numpy(to_output[labels[held]]),
    )  # fmt: skip
    names = [class_names[c] for c in wanted] if class_names and max(wanted) < len(class_names) else None
    metrics = {
        "params_before": out.params_before,
        "params_after": out.params_after,
        "flops_before": out.flops_before,
        "flops_after": out.flops_after,
        "accuracy_base": out.accuracy_base,
        "accuracy_base_restricted": out.accuracy_base_restricted,
        "accuracy_component": out.accuracy_component,
    }
    manifest = {
        "format": ARCHIVE_FORMAT,
        "kind": "component",
        "name": name,
        "source_model": {
            "id": source.id,
            "name": source.name,
            "architecture": source.architecture,
            "model_kwargs": source.arch_kwargs(),
            "weights_sha256": source.weights_sha256,
        },
        "dataset_id": dataset_id,
        "classes": out.classes,
        "class_labels": out.class_labels,
        "class_names": names,
        "thresholds": job.thresholds.model_dump(),
        "input_size": list(source.input_size),
        "mean": list(source.mean),
        "std": list(source.std),
        "metrics": metrics,
    }
    card = _card(
        f"{name}: a Model LEGO component of {source.name}",
        [
            f"The channels and kernels of `{source.architecture}` ({source.name}, id {source.id}) that carry "
            f"outputs {out.classes}, physically pruned with no training (Model LEGO, Hu et al. 2024).",
            f"Parameters {out.params_before:,} → {out.params_after:,}; FLOPs per image "
            f"{out.flops_before:,} → {out.flops_after:,}.",
            f"Accuracy on held-out images of these classes: base {_pct(out.accuracy_base)}, base restricted "
            f"to these logits {_pct(out.accuracy_base_restricted)}, component {_pct(out.accuracy_component)} "
            f"({out.eval_images} images).",
        ],
        manifest,
    )
    archive, digest = _zip(out.component, manifest, card)
    result = {
        **metrics,
        "classes": out.classes,
        "class_labels": out.class_labels,
        "class_names": names,
        "samples_per_class": out.samples_per_class,
        "eval_images": out.eval_images,
        "split": {"fit": len(fit), "eval": len(held)},
        "architecture": source.architecture,
        "input_size": list(source.input_size),
        "weights_sha256": digest,
        "seconds": out.seconds,
    }
    return Built(archive, result)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def check_compatible(archives: Sequence[LoadedArchive], ids: Sequence[str]) -> None:
    """Alignment padding pairs layers one to one: refuse mixed architectures, input sizes or
    normalisations, naming the two components that differ."""
    first, a = archives[0], ids[0]
    for other, b in zip(archives[1:], ids[1:], strict=True):
        s0, s1 = first.component.spec, other.component.spec
        if s0.base.family() != s1.base.family():
            raise InvalidInput(
                f"component {b} comes from a {s1.base.arch!r} {s1.base.kwargs} but component {a} from a "
                f"{s0.base.arch!r} {s0.base.kwargs}; alignment padding pairs layers one to one, so every "
                "component must come from the same architecture",
                details={"architectures": {a: s0.base.arch, b: s1.base.arch}},
            )
        if tuple(s0.input_size) != tuple(s1.input_size):
            raise InvalidInput(
                f"component {b} takes inputs {list(s1.input_size)} but component {a} takes "
                f"{list(s0.input_size)}; components must share the input size"
            )
        m0, m1 = first.manifest, other.manifest
        if (m0["mean"], m0["std"]) != (m1["mean"], m1["std"]):
            raise InvalidInput(
                f"component {b} normalises inputs with mean {m1['mean']}, std {m1['std']} but component "
                f"{a} with mean {m0['mean']}, std {m0['std']}; one assembled network sees one input, so "
                "the components' source models must share their normalisation"
            )


def build_composition(
    archives: Sequence[bytes],
    component_ids: Sequence[str],
    data: StoredDataset,
    job: CompositionJob,
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
    name: str = "composition",
) -> Built:
    """Assemble the archived components, scale on the scaling dataset's validation split, report
    Score1 (and Score2) on its eval split; the archive and the result."""
    images, labels, dataset_id, class_names = data.images, data.labels, data.id, data.class_names
    report = progress or no_progress
    report(0.0, "loading the components")
    loaded = [load_archive(data) for data in archives]
    check_compatible(loaded, component_ids)
    parts = [x.component for x in loaded]
    wanted = [label for c in parts for label in c.spec.class_labels]
    val, held = _split(labels, job.eval_fraction, job.seed, wanted, "scaling")
    first = loaded[0].manifest
    size = tuple(parts[0].spec.input_size)
    val_x, eval_x = (_prepare(images[i], size, first["mean"], first["std"]) for i in (val, held))
    val_y, eval_y = torch.from_numpy(labels[val]), torch.from_numpy(labels[held])
    example = torch.zeros(1, *size)
    before_params = sum(count_params(c.model) for c in parts)
    before_flops = sum(count_flops(c.model, example) for c in parts)
    own = [_own_accuracy(c, eval_x, eval_y) for c in parts]
    request = CompositionRequest(
        classes=job.classes,
        parameter_scaling=job.parameter_scaling,
        finetune_epochs=job.finetune_epochs,
        seed=job.seed,
        extra={"component_ids": list(component_ids), "scaling_dataset_id": dataset_id},
    )
    out = compose(
        parts, val_x, val_y, request, device, report,
        eval_images=eval_x, eval_labels=eval_y, train_images=val_x, train_labels=val_y,
    )  # fmt: skip
    names = (
        [class_names[c] for c in out.class_labels]
        if class_names and max(out.class_labels) < len(class_names)
        else None
    )
    metrics = {
        "params_before": before_params,
        "params_after": out.params,
        "flops_before": before_flops,
        "flops_after": out.flops,
        "score1_unscaled": out.score1_unscaled,
        "score1": out.score1,
        "score2": out.score2,
    }
    components = [
        {
            "id": cid,
            "source_model_id": x.manifest["source_model"]["id"],
            "class_labels": x.component.spec.class_labels,
            "weights_sha256": x.manifest["weights"]["sha256"],
            "accuracy_on_own_classes": acc,
        }
        for cid, x, acc in zip(component_ids, loaded, own, strict=True)
    ]
    manifest = {
        "format": ARCHIVE_FORMAT,
        "kind": "composition",
        "name": name,
        "source_model": None,
        "components": components,
        "scaling_dataset_id": dataset_id,
        "class_labels": out.class_labels,
        "class_names": names,
        "scales": out.scales,
        "parameter_scaling": job.parameter_scaling,
        "finetune_epochs": job.finetune_epochs,
        "architecture": parts[0].spec.base.arch,
        "input_size": list(size),
        "mean": first["mean"],
        "std": first["std"],
        "metrics": metrics,
    }
    card = _card(
        f"{name}: a Model LEGO composition of {len(parts)} components",
        [
            f"Components {list(component_ids)} of `{parts[0].spec.base.arch}` assembled by alignment padding "
            + ("and parameter scaling." if job.parameter_scaling else "(no parameter scaling)."),
            f"Parameters {before_params:,} (components side by side) → {out.params:,}; FLOPs per image "
            f"{before_flops:,} → {out.flops:,}.",
            f"Score1 (no fine-tuning) {_pct(out.score1)}, without scaling {_pct(out.score1_unscaled)}"
            + (
                ""
                if out.score2 is None
                else f"; Score2 after {job.finetune_epochs} epoch(s) {_pct(out.score2)}"
            )
            + f" on {out.eval_images} held-out images.",
        ],
        manifest,
    )
    archive, digest = _zip(out.composition, manifest, card)
    result = {
        **metrics,
        "class_labels": out.class_labels,
        "class_names": names,
        "scales": out.scales,
        "components": components,
        "max_abs_diff": out.max_abs_diff,
        "eval_images": out.eval_images,
        "split": {"validation": len(val), "eval": len(held)},
        "finetune_data": "validation" if job.finetune_epochs > 0 else None,
        "note": (
            f"parameter scaling{' and fine-tuning' if job.finetune_epochs > 0 else ''} used the "
            f"validation split ({len(val)} images); Score1/Score2 are measured on the eval split "
            f"({len(held)} images), which chose nothing"
        ),
        "architecture": parts[0].spec.base.arch,
        "weights_sha256": digest,
        "seconds": out.seconds,
    }
    return Built(archive, result)


def _own_accuracy(component: Component, images: torch.Tensor, labels: torch.Tensor) -> float | None:
    """A component's accuracy on the eval images of its own classes (argmax over its own logits)."""
    served = component.spec.class_labels
    keep = torch.isin(labels, torch.tensor(served))
    if not bool(keep.any()):
        return None
    position = {c: k for k, c in enumerate(served)}
    target = torch.tensor([position[int(v)] for v in labels[keep]])
    return float((predict(component.model, images[keep]).argmax(1) == target).float().mean())
