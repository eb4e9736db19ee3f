"""Assemblies over HTTP on the trained zoo: budget checks, the search job, ranked candidates, export."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.api.conftest import LiveService, wait_job

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def partition(live: LiveService, zoo_models: list[dict], fashion_dataset: dict) -> dict:
    body = {
        "model_ids": [m["id"] for m in zoo_models],
        "probe_dataset_id": fashion_dataset["id"],
        "k": 3, "epsilon": 0.5, "restarts": 20, "probe_images": 256, "batch_size": 32,
    }  # fmt: skip
    created = live.client.post("/v1/partitions", json=body).json()
    assert wait_job(live, created["job"]["id"])["status"] == "succeeded"
    return dict(live.client.get(f"/v1/partitions/{created['id']}").json())


def _upload(live: LiveService, name: str, images: np.ndarray, labels: np.ndarray) -> dict:
    buffer = io.BytesIO()
    np.savez(buffer, images=images, labels=labels)
    r = live.client.post(
        "/v1/datasets", files={"file": (f"{name}.npz", buffer.getvalue())}, data={"name": name}
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.fixture(scope="module")
def transfer(live: LiveService) -> dict[str, dict]:
    """A target task none of the zoo models was trained on (the images rotated and inverted): a fit
    set, a held-out set, and the same held-out images with their labels shuffled."""
    from core.transfer_task import rotated_inverted
    from core.zoo.data import bundled_subset_path, load_npz

    images, labels = load_npz(bundled_subset_path())
    images = rotated_inverted(images)
    shuffled = np.random.default_rng(0).permutation(labels[2000:])
    return {
        "fit": _upload(live, "transfer-fit", images[:2000], labels[:2000]),
        "heldout": _upload(live, "transfer-heldout", images[2000:], labels[2000:]),
        "shuffled": _upload(live, "transfer-heldout-shuffled", images[2000:], shuffled),
    }


def _body(partition: dict, dataset: dict, **over: object) -> dict:
    body = {
        "partition_id": partition["id"],
        "target_dataset_id": dataset["id"],
        "constraints": {"max_params": 5_000_000},
        "candidates": 3,
        "pool_size": 30,
        "probe_images": 128,
        "fit_images": 500,
        "heldout_images": 300,
    }
    return body | over


def _run(live: LiveService, body: dict) -> dict:
    r = live.client.post("/v1/assemblies", json=body)
    assert r.status_code == 202, r.text
    job = wait_job(live, r.json()["job"]["id"], timeout=900)
    assert job["status"] == "succeeded", job
    return dict(live.client.get(f"/v1/assemblies/{r.json()['id']}").json())


def test_infeasible_budget_is_422_naming_the_smallest(
    live: LiveService, partition: dict, fashion_dataset: dict
) -> None:
    r = live.client.post(
        "/v1/assemblies", json=_body(partition, fashion_dataset, constraints={"max_params": 1000})
    )
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "infeasible"
    smallest = err["details"]["min_params"]
    assert smallest > 1000 and f"{smallest:,}" in err["message"]
    assert err["details"]["min_flops"] > 0


def test_a_budget_is_required(live: LiveService, partition: dict, fashion_dataset: dict) -> None:
    r = live.client.post("/v1/assemblies", json=_body(partition, fashion_dataset, constraints={}))
    assert r.status_code == 422 and "max_params" in r.json()["error"]["message"]


def test_impossible_latency_fails_the_job_naming_the_fastest(
    live: LiveService, partition: dict, fashion_dataset: dict
) -> None:
    budget = {"max_params": 5_000_000, "max_latency_ms": 1e-6}
    r = live.client.post("/v1/assemblies", json=_body(partition, fashion_dataset, constraints=budget))
    assert r.status_code == 202, r.text  # latencies are timed by the worker, so the job says no
    job = wait_job(live, r.json()["job"]["id"])
    assert job["status"] == "failed" and job["error_code"] == "infeasible", job
    assert job["error_details"]["min_latency_ms"] > 0 and " ms" in job["error_message"]
    assert live.client.get(f"/v1/assemblies/{r.json()['id']}").json()["status"] == "failed"


def test_default_search_reassembles_beside_its_baseline_and_exports(
    live: LiveService, partition: dict, transfer: dict[str, dict], tmp_path: Path
) -> None:
    """Default search settings (pool, proxy, min_donors, finalists); only the image caps are small."""
    body = {
        "partition_id": partition["id"],
        "target_dataset_id": transfer["fit"]["id"],
        "constraints": {"max_params": 5_000_000, "max_latency_ms": 10_000.0},
        "fit_images": 500,
        "heldout_images": 300,
    }
    asm = _run(live, body)
    cands, pool = asm["candidates"], asm["pool"]
    assert asm["status"] == "done" and asm["config"]["pool_size"] == 200 and len(cands) == 3
    assert asm["chosen"] in cands
    # No returned chain is a single donor's own: every candidate mixes at least two donors.
    assert len(pool) > 30 and all(len(set(c["donors"])) >= 2 for c in pool + cands)
    assert len({tuple(c["block_ids"]) for c in pool}) == len(pool)
    for c in pool:
        assert c["predicted_params"] == c["built_params"] <= 5_000_000
        assert abs(c["predicted_flops"] - c["built_flops"]) <= 0.005 * c["built_flops"]
    # The finalists are the pool's best by the default proxy, the closed-form validation accuracy.
    assert asm["config"]["proxy"] == "validation"
    best = sorted(pool, key=lambda c: c["proxy_rank"])[:3]
    assert [c["proxy_scores"]["validation_accuracy"] for c in best] == [
        c["proxy_scores"]["validation_accuracy"] for c in cands
    ]
    # The baseline: every zoo model under the budget, kept whole with a new head; the best on validation.
    zoo = asm["zoo_models"]
    assert len(zoo) == len(partition["model_ids"])
    assert asm["baseline"] == max(zoo, key=lambda z: z["validation_accuracy"])
    gain = 100 * (asm["chosen"]["heldout_accuracy"] - asm["baseline"]["heldout_accuracy"])
    assert asm["gain"] == pytest.approx(gain, abs=0.01)
    better = asm["chosen"]["validation_accuracy"] > asm["baseline"]["validation_accuracy"]
    assert asm["recommendation"] == ("reassembly" if better else "zoo_model")
    assert asm["chosen"]["heldout_accuracy"] > 0.2  # ten classes: chance is 0.1

    ckpt = live.client.get(f"/v1/assemblies/{asm['id']}/checkpoint")
    assert ckpt.status_code == 200 and ckpt.headers["etag"]
    archive = tmp_path / "assembly.zip"
    archive.write_bytes(ckpt.content)
    with zipfile.ZipFile(io.BytesIO(ckpt.content)) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
    assert {"model.safetensors", "manifest.json", "README.md"} <= names
    assert manifest["params"] == asm["chosen"]["built_params"]
    assert manifest["metrics"]["heldout_accuracy"] == asm["chosen"]["heldout_accuracy"]
    assert manifest["metrics"]["recommendation"] == asm["recommendation"]
    donors = manifest["assembly"]["donors"]
    assert all(len(d["weights_sha256"]) == 64 and d["mean"] and d["std"] for d in donors)
    # The archive is loadable with core alone, in a fresh process, without the service.
    code = (
        "import sys, torch; from core.stitch import load_archive; "
        f"net = load_archive({str(archive)!r}); "
        f"print(net(torch.zeros(2, *net.input_size)).shape)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert str(torch.Size([2, 10])) in out.stdout


def test_choice_ignores_heldout_labels_and_training_never_loses_its_start(
    live: LiveService, partition: dict, transfer: dict[str, dict]
) -> None:
    """Held-out labels are reported, never used: shuffling them changes no ranking and no choice.
    FZ training keeps its best validation epoch, so no trained network ends below its start."""
    training = {"mode": "frozen", "epochs": 2}
    runs = [
        _run(live, _body(partition, transfer["fit"], heldout_dataset_id=transfer[h]["id"], training=training))
        for h in ("heldout", "shuffled")
    ]

    def choices(asm: dict) -> tuple:
        pool = [(tuple(c["block_ids"]), c["proxy_rank"]) for c in asm["pool"]]
        finalists = [tuple(b["model_id"] for b in c["blocks"]) for c in asm["candidates"]]
        base = asm["baseline"]["model_id"] if asm["baseline"] else None
        return pool, finalists, asm["chosen"]["rank"], base, asm["recommendation"]

    assert choices(runs[0]) == choices(runs[1])
    assert runs[0]["chosen"]["heldout_accuracy"] > runs[1]["chosen"]["heldout_accuracy"]
    assert runs[0]["target"]["heldout_images"] == 300
    for asm in runs:
        for trained in asm["candidates"] + asm["zoo_models"]:
            epochs = trained["training"]
            assert [e["epoch"] for e in epochs] == [0, 1, 2]
            assert epochs[0]["validation_accuracy"] == pytest.approx(
                trained["closed_form_validation_accuracy"]
            )
            assert trained["validation_accuracy"] >= trained["closed_form_validation_accuracy"]
            assert trained["validation_accuracy"] == max(e["validation_accuracy"] for e in epochs)
