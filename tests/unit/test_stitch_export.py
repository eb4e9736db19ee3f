"""Export → load in a fresh Python process → identical logits; ONNX matches PyTorch; the manifest and
model card say what they must; a corrupt archive is refused."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import timm
import torch
import torch.nn.functional as F
import yaml
from safetensors.torch import load_file, save_file

from core.dissect.discover import dissect
from core.dissect.pieces import split
from core.errors import InvalidInput
from core.stitch import (
    AssemblySpec,
    BlockRef,
    DonorModel,
    ReassembledNet,
    build_reassembled,
    export_archive,
    fit_head_closed_form,
    load_archive,
    weights_sha256,
)

ROOT = Path(__file__).resolve().parents[2]
SIZE = (3, 32, 32)
DONORS: dict[str, tuple[str, dict[str, Any]]] = {
    "cnn": ("test_resnet", {"num_classes": 10}),
    "vit": ("test_vit", {"img_size": 32, "patch_size": 8, "num_classes": 10}),
    "nhwc": ("test_mambaout", {"num_classes": 10}),
}
CLASSES = [f"class {i}" for i in range(10)]

LOADER = """
import sys
from safetensors.torch import load_file, save_file
import torch
from core.stitch import load_archive
net = load_archive(sys.argv[1])
x = load_file(sys.argv[2])["images"]
with torch.no_grad():
    save_file({"logits": net(x).contiguous()}, sys.argv[3])
service = ("api", "worker", "sqlalchemy", "celery")
print("modules:", sorted(m for m in sys.modules if m.split(".")[0] in service))
"""


@pytest.fixture(scope="module")
def images() -> tuple[torch.Tensor, torch.Tensor]:
    data = np.load(ROOT / "data" / "fashion_subset.npz")
    raw = torch.from_numpy(data["images"][:80]).float().div(255)[:, None]
    x = F.interpolate(raw, size=SIZE[1:], mode="bilinear", align_corners=False).repeat(1, 3, 1, 1)
    return (x - 0.5) / 0.5, torch.from_numpy(data["labels"][:80]).long()


@pytest.fixture(scope="module")
def net(images: tuple[torch.Tensor, torch.Tensor]) -> ReassembledNet:
    x, y = images
    splits, dissections, donors = {}, {}, []
    for key, (name, kwargs) in DONORS.items():
        torch.manual_seed(1)
        model = timm.create_model(name, pretrained=False, **kwargs).eval()
        dissections[key] = dissect(model, SIZE)
        splits[key] = split(model, dissections[key])
        donors.append(DonorModel(key, name, SIZE, kwargs, weights_sha256(model)))
    spec = AssemblySpec(
        (BlockRef("cnn", 0, 1), BlockRef("vit", 2, 3), BlockRef("nhwc", 5, 8)), tuple(donors), num_classes=10
    )
    net = build_reassembled(spec, splits, dissections, probe_images=x[:48])
    fit_head_closed_form(net, x[:64], y[:64])
    return net


@pytest.fixture(scope="module")
def archive(net: ReassembledNet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    info = {
        "name": "test reassembly",
        "class_names": CLASSES,
        "metrics": {"val_accuracy": 0.5},
        "input_config": {"input_size": list(SIZE), "mean": [0.5] * 3, "std": [0.5] * 3},
        "job": "abc",
    }
    return export_archive(net, info, tmp_path_factory.mktemp("export") / "model.zip")


def test_load_in_a_fresh_process_gives_identical_logits(
    net: ReassembledNet, archive: Path, images: tuple[torch.Tensor, torch.Tensor], tmp_path: Path
) -> None:
    x = images[0][64:72].contiguous()
    save_file({"images": x}, str(tmp_path / "in.safetensors"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [
        sys.executable,
        "-c",
        LOADER,
        str(archive),
        str(tmp_path / "in.safetensors"),
        str(tmp_path / "out.safetensors"),
    ]
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "modules: []" in done.stdout, "the loader must not need the service (api/worker/db/broker)"
    got = load_file(str(tmp_path / "out.safetensors"))["logits"]
    with torch.no_grad():
        want = net.eval()(x)
    assert float((got - want).abs().max()) <= 1e-6


def test_onnx_matches_pytorch(
    net: ReassembledNet, archive: Path, images: tuple[torch.Tensor, torch.Tensor]
) -> None:
    manifest = json.loads(zipfile.ZipFile(archive).read("manifest.json"))
    assert manifest["onnx"]["exported"] is True, manifest["onnx"]["errors"]
    session = ort.InferenceSession(
        zipfile.ZipFile(archive).read("model.onnx"), providers=["CPUExecutionProvider"]
    )
    batch = 4 if manifest["onnx"]["dynamic_batch"] else 1
    x = images[0][:batch]
    (onnx_logits,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        want = net.eval()(x).numpy()
    assert np.abs(onnx_logits - want).max() <= 1e-4


def test_manifest_and_model_card(net: ReassembledNet, archive: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        card = zf.read("README.md").decode()
        weights = zf.read("model.safetensors")
    assert names == {"manifest.json", "README.md", "model.safetensors", "model.onnx"}  # nothing pickled
    import hashlib

    assert manifest["weights"]["sha256"] == hashlib.sha256(weights).hexdigest()
    donors = {d["key"]: d for d in manifest["assembly"]["donors"]}
    assert donors["vit"]["timm_name"] == "test_vit" and donors["vit"]["kwargs"]["patch_size"] == 8
    assert all(len(d["weights_sha256"]) == 64 for d in donors.values())
    assert [(b["model"], b["first"], b["last"]) for b in manifest["assembly"]["blocks"]] == [
        ("cnn", 0, 1), ("vit", 2, 3), ("nhwc", 5, 8)]  # fmt: skip
    assert manifest["block_nodes"][1]["first"]["path"] == "blocks.2"
    stitches = manifest["stitches"]
    assert [s["transition"] for s in stitches] == ["map->tokens", "tokens->map"]
    assert all(0 <= s["fit_residual"] < 1 for s in stitches)
    assert [s["fit_residual"] for s in stitches] == [s.fit_residual for s in net.all_stitches()]
    assert manifest["class_names"] == CLASSES and manifest["metrics"] == {"val_accuracy": 0.5}
    assert manifest["input_config"]["input_size"] == list(SIZE) and manifest["extra"] == {"job": "abc"}
    assert manifest["params"] == sum(p.numel() for p in net.parameters())

    assert card.startswith("---\n")
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["library_name"] == "timm" and front["base_model_relation"] == "merge"
    assert front["base_model"] == ["timm/test_resnet", "timm/test_vit", "timm/test_mambaout"]


def test_load_from_an_unpacked_directory(net: ReassembledNet, archive: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp_path / "unpacked")
    loaded = load_archive(tmp_path / "unpacked")
    for (ka, va), (kb, vb) in zip(net.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)


def test_corrupt_or_foreign_archives_are_refused(net: ReassembledNet, archive: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, data[:-8] + b"\0" * 8 if name == "model.safetensors" else data)
    with pytest.raises(InvalidInput, match="sha256"):
        load_archive(bad)
    (tmp_path / "not.zip").write_bytes(b"hello")
    with pytest.raises(InvalidInput, match="not a reassembly archive"):
        load_archive(tmp_path / "not.zip")
    with pytest.raises(InvalidInput, match="class names"):
        export_archive(net, {"class_names": ["a", "b"]}, tmp_path / "x.zip")
    with pytest.raises(InvalidInput, match="JSON-serialisable"):
        export_archive(net, {"metrics": {"acc": float("nan")}}, tmp_path / "y.zip")
    assert not (tmp_path / "y.zip").exists()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("manifest.json", json.dumps({"format": "something-else", "format_version": 9}))
    (tmp_path / "foreign.zip").write_bytes(buf.getvalue())
    with pytest.raises(InvalidInput, match="unsupported archive format"):
        load_archive(tmp_path / "foreign.zip")
    shutil.rmtree(tmp_path, ignore_errors=True)
