"""The remote CLI (``reassembly models|datasets|partitions|assemblies|components|compositions|jobs``)
against a live server on a loopback port with a real worker, through typer's runner."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.api.conftest import LiveService

runner = CliRunner()
PARTITION = ("--k", "3", "--probe-images", "256", "--batch-size", "32", "--epsilon", "0.5")


@pytest.fixture()
def cli(live_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REASSEMBLY_URL", live_url)
    monkeypatch.setenv("COLUMNS", "250")  # tables unwrapped

    def run(*args: str, ok: bool = True) -> str:
        """stdout alone for ``--json`` (what scripts parse); stdout and stderr otherwise."""
        result = runner.invoke(app, list(args))
        output = result.output
        if ok:
            assert result.exit_code == 0, f"{args} exited {result.exit_code}:\n{output}"
        else:
            assert result.exit_code != 0, f"{args} should have failed:\n{output}"
        return result.stdout if "--json" in args else output

    return run


def _json(output: str) -> dict:
    return dict(json.loads(output[output.index("{") :]))


def test_models_and_jobs(cli, live: LiveService, zoo_models: list[dict], tiny_zoo: Path) -> None:  # type: ignore[no-untyped-def]
    listed = _json(cli("models", "list", "--json"))
    assert {m["id"] for m in zoo_models} <= {m["id"] for m in listed["items"]}
    table = cli("models", "list")
    assert zoo_models[0]["name"][:12] in table
    shown = _json(cli("models", "show", zoo_models[0]["id"], "--json"))
    assert shown["name"] == zoo_models[0]["name"]

    added = _json(cli("models", "add", "cli-net", "--timm", "test_resnet", "--num-classes", "3",
                      "--input-size", "3,32,32", "--json"))  # fmt: skip
    assert added["status"] == "ready" and added["num_classes"] == 3
    out = cli("models", "dissect", added["id"], "--json")
    assert _json(out)["dissection_status"] == "done"
    jobs = _json(cli("jobs", "list", "--json"))["items"]
    dissect = next(j for j in jobs if j["kind"] == "dissect" and j["subject_id"] == added["id"])
    assert _json(cli("jobs", "show", dissect["id"], "--json"))["status"] == "succeeded"
    watched = cli("jobs", "watch", dissect["id"])
    assert "succeeded" in watched and "100%" in watched
    cli("models", "rm", added["id"])

    entry = json.loads((tiny_zoo / "zoo.json").read_text())["models"][0]
    kwargs = json.dumps({**entry["kwargs"], "in_chans": entry["input_size"][0]})
    uploaded = _json(cli("models", "upload", "cli-upload", str(tiny_zoo / entry["weights_file"]),
                         "--architecture", entry["arch"], "--num-classes", str(entry["num_classes"]),
                         "--input-size", ",".join(map(str, entry["input_size"])), "--model-kwargs", kwargs,
                         "--json"))  # fmt: skip
    assert uploaded["status"] == "ready" and uploaded["source"] == "upload"

    # Failures exit non-zero with the server's reason.
    missing = cli("models", "show", "mdl_nope", ok=False)
    assert "404" in missing and "no model with id 'mdl_nope'" in missing
    bad = cli("models", "add", "cli-bad", "--timm", "resnet_does_not_exist", ok=False)
    assert "422" in bad and "resnet_does_not_exist" in bad
    unreachable = runner.invoke(app, ["models", "--url", "http://127.0.0.1:9", "list"])
    assert unreachable.exit_code == 3 and "cannot reach" in unreachable.output


def test_jobs_cancel_and_a_failed_watch(cli, live: LiveService) -> None:  # type: ignore[no-untyped-def]
    job = live.client.post("/v1/jobs:canary", json={"seconds": 30}).json()
    cancelled = _json(cli("jobs", "cancel", job["id"], "--json"))
    assert cancelled["status"] in ("cancelled", "running")
    out = cli("jobs", "watch", job["id"], ok=False)
    assert "cancelled" in out


def test_datasets_partitions_pictures(  # type: ignore[no-untyped-def]
    cli, zoo_models: list[dict], tmp_path: Path
) -> None:
    from core.zoo.data import bundled_subset_path

    ds = _json(cli("datasets", "add", "cli-probe", str(bundled_subset_path()), "--json"))
    assert ds["num_classes"] == 10
    assert _json(cli("datasets", "show", ds["id"], "--json"))["id"] == ds["id"]
    assert ds["id"] in cli("datasets", "list")
    folder = _image_folder(tmp_path / "folder", bundled_subset_path())
    out = cli("datasets", "add", "cli-folder", str(folder), "--json")
    assert _json(out) | {"class_names": ["bag", "coat"], "num_images": 6} == _json(out)

    ids = [m["id"] for m in zoo_models]
    models = [arg for mid in ids[:-1] for arg in ("--model", mid)]
    part = _json(cli("partitions", "create", *models, "--probe", ds["id"], *PARTITION, "--json"))
    assert part["status"] == "done" and len(part["sets"]) == 3
    added = _json(cli("partitions", "add-model", part["id"], ids[-1], "--json"))
    assert added["model_ids"] == ids
    assert part["id"] in cli("partitions", "show", part["id"])
    out = cli("partitions", "pictures", part["id"], "--out", str(tmp_path))
    for name in ("similarity", "partition"):
        png = tmp_path / f"{part['id']}-{name}.png"
        assert str(png) in out and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_assemblies_components_compositions(  # type: ignore[no-untyped-def]
    cli, zoo_models: list[dict], mda_models: dict[str, dict], fashion_dataset: dict, tmp_path: Path
) -> None:
    ids = [m["id"] for m in zoo_models]
    models = [arg for mid in ids for arg in ("--model", mid)]
    part = _json(cli("partitions", "create", *models, "--probe", fashion_dataset["id"], *PARTITION, "--json"))
    sizes = ("--pool-size", "10", "--candidates", "2", "--fit-images", "400", "--heldout-images", "200")
    asm = _json(cli("assemblies", "create", part["id"], "--target", fashion_dataset["id"],
                    "--max-params", "5000000", "--training", "none", *sizes, "--json"))  # fmt: skip
    assert asm["status"] == "done" and asm["checkpoint_available"] and asm["recommendation"] in (
        "reassembly", "zoo_model",
    )  # fmt: skip
    assert "gain" in cli("assemblies", "show", asm["id"])
    archive = tmp_path / "asm.zip"
    cli("assemblies", "download", asm["id"], "--out", str(archive))
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(archive.read_bytes())).namelist()

    ds = fashion_dataset["id"]
    parts = [  # vgg_mda on classes 0–4 and on 5–9 (as the Model LEGO API tests): labels 0–2 and 5–6
        _json(cli("components", "create", mda_models["vgg_A"]["id"], "--dataset", ds, "--classes", "0,1,2",
                  "--seed", "1", "--json")),
        _json(cli("components", "create", mda_models["vgg_B"]["id"], "--dataset", ds, "--classes", "0,1",
                  "--class-labels", "5,6", "--json")),
    ]  # fmt: skip
    assert all(p["status"] == "done" for p in parts), parts
    assert parts[0]["id"] in cli("components", "show", parts[0]["id"])
    cli("components", "download", parts[0]["id"], "--out", str(tmp_path / "c.zip"))
    assert zipfile.is_zipfile(tmp_path / "c.zip")
    comp = _json(cli("compositions", "create", "--component", parts[0]["id"], "--component", parts[1]["id"],
                     "--scaling-dataset", fashion_dataset["id"], "--json"))  # fmt: skip
    assert comp["status"] == "done", comp
    assert comp["id"] in cli("compositions", "show", comp["id"])
    cli("compositions", "download", comp["id"], "--out", str(tmp_path / "m.zip"))
    assert zipfile.is_zipfile(tmp_path / "m.zip")
    too_few = cli("compositions", "create", "--component", parts[0]["id"], "--scaling-dataset",
                  fashion_dataset["id"], ok=False)  # fmt: skip
    assert "422" in too_few


def _image_folder(root: Path, npz: Path) -> Path:
    """Three real PNGs per class, one folder per class (what ``datasets add DIR`` zips on the fly)."""
    import numpy as np
    from PIL import Image

    with np.load(npz) as data:
        images, labels = data["images"], data["labels"]
    for name, label in (("bag", 8), ("coat", 4)):
        (root / name).mkdir(parents=True)
        for i, index in enumerate(np.flatnonzero(labels == label)[:3]):
            Image.fromarray(images[index]).save(root / name / f"{i}.png")
    return root
