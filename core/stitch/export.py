"""Export a reassembled network as one .zip archive, and load it back with timm and core alone.

Archive members: ``model.safetensors`` (the whole network's state dict), ``manifest.json`` (donors
with timm name, kwargs and weight sha256, node ranges, stitch specs and fit residuals, head, input
config, class names, metrics, ONNX status), ``README.md`` (a Hugging Face model card) and
``model.onnx`` when ``torch.onnx.export`` succeeds — a failure is recorded in the manifest, not
raised. No pickle anywhere: weights are safetensors, the rest is JSON/text.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import logging
import tempfile
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import safetensors.torch
import timm
import torch
from torch import nn

from core.device import module_device
from core.dissect.types import Dissection, NodeSpec
from core.errors import InvalidInput
from core.flops import count_flops, count_params
from core.model_kwargs import check_model_kwargs
from core.progress import Progress, no_progress
from core.stitch.network import AssemblySpec, ReassembledNet, SplitLike, stitch_records

FORMAT = "reassembly-archive"
FORMAT_VERSION = 1
OPSET = 17
log = logging.getLogger(__name__)
_KNOWN_INFO = ("name", "description", "class_names", "metrics", "input_config", "license", "base_models")


def state_dict_bytes(module: nn.Module) -> bytes:
    """The module's state dict serialised as safetensors (tensors copied, so ties do not matter)."""
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}
    return safetensors.torch.save(tensors)


def weights_sha256(module: nn.Module) -> str:
    """sha256 of the module's weights in safetensors form, e.g. to record a donor's exact weights."""
    return hashlib.sha256(state_dict_bytes(module)).hexdigest()


def _onnx_bytes(net: ReassembledNet) -> tuple[bytes | None, dict[str, Any]]:
    """Try the TorchScript exporter (dynamic batch), then the dynamo one; never raise: each
    exporter's failure is logged and recorded (``errors``), so ``exported: false`` says why."""
    dummy = torch.zeros(1, *net.input_size, device=module_device(net))
    errors: list[str] = []
    for dynamo in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "model.onnx"
            try:
                with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                    warnings.simplefilter("ignore")
                    torch.onnx.export(
                        net, (dummy,), str(out), dynamo=dynamo, opset_version=OPSET,
                        input_names=["images"], output_names=["logits"],
                        dynamic_axes=None if dynamo else {"images": {0: "batch"}, "logits": {0: "batch"}},
                    )  # fmt: skip
                return out.read_bytes(), {"exported": True, "file": "model.onnx", "opset": OPSET,
                                          "exporter": "dynamo" if dynamo else "torchscript",
                                          "dynamic_batch": not dynamo, "errors": errors}  # fmt: skip
            except Exception as exc:  # any exporter failure is a recorded fact, not an error
                errors.append(
                    f"{'dynamo' if dynamo else 'torchscript'}: {type(exc).__name__}: {str(exc)[:500]}"
                )
                log.warning("ONNX export (%s) failed: %s", "dynamo" if dynamo else "torchscript", errors[-1])
    return None, {"exported": False, "file": None, "opset": OPSET, "errors": errors}


def _model_card(manifest: dict[str, Any]) -> str:
    donors = manifest["assembly"]["donors"]
    base = manifest.get("base_models") or [f"timm/{d['timm_name']}" for d in donors]
    lines = ["---", "library_name: timm", "base_model:"]
    lines += [f"- {b}" for b in base]
    lines += ["base_model_relation: merge", "pipeline_tag: image-classification", "tags:",
              "- image-classification", "- timm", "- model-reassembly"]  # fmt: skip
    if manifest.get("license"):
        lines.append(f"license: {manifest['license']}")
    lines.append("---")
    name = manifest.get("name") or "Reassembled network"
    lines += ["", f"# {name}", ""]
    if manifest.get("description"):
        lines += [str(manifest["description"]), ""]
    lines += [
        "A network reassembled from blocks of pretrained models (DeRy-style), joined by stitching layers",
        "initialised by least squares. Parameters: "
        f"{manifest['params']:,}; FLOPs per image: {manifest['flops']:,}.",
        "",
        "| # | donor model | nodes |",
        "|---|---|---|",
    ]
    for i, b in enumerate(manifest["assembly"]["blocks"]):
        timm_name = next(d["timm_name"] for d in donors if d["key"] == b["model"])
        lines.append(f"| {i} | `{timm_name}` | {b['first']}..{b['last']} |")
    lines += ["", "## Stitches", "", "| position | transition | params | fit residual |", "|---|---|---|---|"]
    for s in manifest["stitches"]:
        r = s["fit_residual"]
        lines.append(
            f"| {s['position']} | {s['transition']} | {s['params']:,} | {'-' if r is None else f'{r:.4g}'} |"
        )
    if manifest.get("metrics"):
        lines += ["", "## Metrics", ""] + [f"- {k}: {v}" for k, v in manifest["metrics"].items()]
    lines += [
        "",
        "## Loading",
        "",
        "```python",
        "from core.stitch import load_archive",
        'net = load_archive("model.zip")  # rebuilds the donors with timm (pretrained=False)',
        "```",
        "",
        "`model.safetensors` holds every weight; `manifest.json` says how to rebuild the graph.",
        "",
    ]
    return "\n".join(lines)


def build_manifest(net: ReassembledNet, manifest_info: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the loader and a reader need, except the weights."""
    info = dict(manifest_info)
    class_names = info.get("class_names")
    if class_names is not None and len(class_names) != net.spec.num_classes:
        raise InvalidInput(f"{len(class_names)} class names given for a {net.spec.num_classes}-class head")
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": info.get("name"),
        "description": info.get("description"),
        "license": info.get("license"),
        "base_models": info.get("base_models"),
        "assembly": net.spec.to_dict(),
        "block_nodes": [{"first": a, "last": b} for a, b in net.block_nodes],
        "stem": "stitch" if net.stem_stitched else "donor",
        "stitches": stitch_records(net),
        "head": {
            "pool": net.head.features.to_dict(),
            "in_features": net.head.fc.in_features,
            "num_classes": net.head.fc.out_features,
        },  # fmt: skip
        "input_config": info.get("input_config") or {"input_size": list(net.input_size)},
        "class_names": list(class_names) if class_names is not None else None,
        "metrics": dict(info.get("metrics") or {}),
        "params": count_params(net),
        "flops": count_flops(net, torch.zeros(1, *net.input_size, device=module_device(net))),
        "software": {"torch": torch.__version__, "timm": timm.__version__},
        "extra": {k: v for k, v in info.items() if k not in _KNOWN_INFO},
    }
    return manifest


def export_archive(
    net: ReassembledNet, manifest_info: Mapping[str, Any], path: str | Path, progress: Progress | None = None
) -> Path:
    """Write the archive (a .zip) to ``path`` and return it. ``manifest_info`` may hold name,
    description, class_names, metrics, input_config (e.g. mean/std), license, base_models and any
    extra JSON-serialisable keys (kept under ``extra``).

    The archive does not depend on where ``net`` lives: a network on a GPU is exported from a CPU
    copy (weights, FLOPs and ONNX all on the CPU), so the archive loads on a CPU-only machine."""
    path = Path(path)
    if path.suffix != ".zip":
        raise InvalidInput(f"the archive path must end in .zip, got {path.name!r}")
    report = progress or no_progress
    if module_device(net).type != "cpu":
        net = copy.deepcopy(net).cpu()
    was_training = net.training
    net.eval()
    try:
        weights = state_dict_bytes(net)
        report(0.1, "serialised weights")
        manifest = build_manifest(net, manifest_info)
        report(0.3, "built the manifest; exporting ONNX")
        onnx, onnx_status = _onnx_bytes(net)
        report(0.8, "ONNX " + ("exported" if onnx is not None else "failed (recorded in the manifest)"))
    finally:
        net.train(was_training)
    manifest["weights"] = {"file": "model.safetensors", "sha256": hashlib.sha256(weights).hexdigest()}
    manifest["onnx"] = onnx_status
    try:
        manifest_text = json.dumps(manifest, indent=2, sort_keys=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"manifest_info must be JSON-serialisable (finite numbers, str keys): {exc}"
        ) from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".zip.partial")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", manifest_text)
        zf.writestr("README.md", _model_card(manifest))
        zf.writestr("model.safetensors", weights)
        if onnx is not None:
            zf.writestr("model.onnx", onnx)
    tmp.replace(path)
    report(1.0, f"wrote {path.name}")
    return path


def read_member(path: str | Path, name: str) -> bytes:
    """One file of an archive (.zip, or a directory holding the same files)."""
    path = Path(path)
    if path.is_dir():
        member = path / name
        if not member.is_file():
            raise InvalidInput(f"{name} is missing from the archive directory {path}")
        return member.read_bytes()
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.read(name)
    except KeyError as exc:
        raise InvalidInput(f"{name} is missing from the archive {path.name}") from exc
    except (zipfile.BadZipFile, FileNotFoundError) as exc:
        raise InvalidInput(f"{path} is not a reassembly archive (.zip): {exc}") from exc


def _rebuild_donor(
    timm_name: str, kwargs: dict[str, Any], input_size: tuple[int, int, int]
) -> tuple[Dissection, SplitLike]:
    import core.zoo  # noqa: F401  (registers the project's own architectures with timm)
    from core.dissect.discover import dissect
    from core.dissect.pieces import split

    kwargs = check_model_kwargs(kwargs)  # an archive's manifest may have been edited on its way
    try:
        model = timm.create_model(timm_name, pretrained=False, **kwargs)
    except Exception as exc:
        raise InvalidInput(f"timm cannot create donor {timm_name!r} with {kwargs}: {exc}") from exc
    model.eval()
    dissection = dissect(model, input_size)
    return dissection, split(model, dissection)


def _check_nodes(manifest: dict[str, Any], spec: AssemblySpec, dissections: Mapping[str, Dissection]) -> None:
    """The re-dissected donors must give the nodes the archive was built from."""
    for i, (ref, stored) in enumerate(zip(spec.blocks, manifest["block_nodes"], strict=True)):
        nodes = dissections[ref.model].nodes
        for end, idx in (("first", ref.first), ("last", ref.last)):
            want = NodeSpec.from_dict(stored[end])
            got = nodes[idx] if idx < len(nodes) else None
            same = got is not None and (got.path, got.kind, got.in_kind, got.in_shape, got.out_shape) == (
                want.path, want.kind, want.in_kind, want.in_shape, want.out_shape)  # fmt: skip
            if not same:
                raise InvalidInput(
                    f"block {i}: node {idx} of {ref.model!r} is now {got}, the archive was built on {want}; "
                    "load it with the timm version recorded in manifest.software"
                )


def load_archive(
    path: str | Path, progress: Progress | None = None, device: torch.device | str = "cpu"
) -> ReassembledNet:
    """Rebuild the network of an archive: donors from timm (pretrained=False), re-dissected and split
    at the stored node ranges, stitches from their specs, then all weights from model.safetensors
    (strict). Returns the network in eval mode on ``device`` (default the CPU)."""
    report = progress or no_progress
    manifest = json.loads(read_member(path, "manifest.json"))
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise InvalidInput(
            f"unsupported archive format {manifest.get('format')!r} v{manifest.get('format_version')}; "
            f"this loader reads {FORMAT} v{FORMAT_VERSION}"
        )
    weights = read_member(path, manifest["weights"]["file"])
    if hashlib.sha256(weights).hexdigest() != manifest["weights"]["sha256"]:
        raise InvalidInput(
            "model.safetensors does not match the sha256 in manifest.json: the archive is corrupt"
        )
    spec = AssemblySpec.from_dict(manifest["assembly"])
    used = sorted({ref.model for ref in spec.blocks})
    dissections: dict[str, Dissection] = {}
    splits: dict[str, SplitLike] = {}
    for i, key in enumerate(used):
        donor = spec.donor(key)
        dissections[key], splits[key] = _rebuild_donor(donor.timm_name, donor.kwargs, donor.input_size)
        report(0.9 * (i + 1) / len(used), f"rebuilt donor {donor.timm_name}")
    _check_nodes(manifest, spec, dissections)
    net = ReassembledNet(spec, splits, dissections)
    stored = manifest["stitches"]
    built = net.all_stitches()
    if len(stored) != len(built) or any(s.spec()["src"] != r["src"] or s.spec()["dst"] != r["dst"]
                                        for s, r in zip(built, stored, strict=False)):  # fmt: skip
        raise InvalidInput("the stitches rebuilt from the donors differ from the archive's stitch specs")
    net.load_state_dict(safetensors.torch.load(weights), strict=True)
    for s, r in zip(built, stored, strict=True):
        s.fit_residual, s.fit_ridge = r["fit_residual"], r.get("fit_ridge")
    report(1.0, "loaded weights")
    return net.to(device).eval()
