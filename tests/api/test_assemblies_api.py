"""Assemblies over HTTP on the trained zoo: budget checks, the search job, ranked candidates, export."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

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


def _body(partition: dict, dataset: dict, **over: object) -> dict:
    body = {
        "partition_id": partition["id"],
        "target_dataset_id": dataset["id"],
        "constraints": {"max_params": 5_000_000},
        "candidates": 3,
        "probe_images": 128,
        "fit_images": 600,
        "heldout_images": 300,
    }
    return body | over


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


def test_frozen_training_records_every_epoch(
    live: LiveService, partition: dict, fashion_dataset: dict
) -> None:
    training = {"mode": "frozen", "epochs": 2, "lr": 3e-3, "batch_size": 64}
    body = _body(partition, fashion_dataset, candidates=1, training=training)
    r = live.client.post("/v1/assemblies", json=body)
    assert r.status_code == 202, r.text
    job = wait_job(live, r.json()["job"]["id"])
    assert job["status"] == "succeeded", job
    epochs = live.client.get(f"/v1/assemblies/{r.json()['id']}").json()["training"]["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert all(e["loss"] > 0 and 0.1 < e["heldout_accuracy"] <= 1 for e in epochs)


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


def test_search_builds_ranks_and_exports(
    live: LiveService, partition: dict, fashion_dataset: dict, tmp_path: Path
) -> None:
    budget = {"max_params": 5_000_000, "max_latency_ms": 10_000.0}
    r = live.client.post("/v1/assemblies", json=_body(partition, fashion_dataset, constraints=budget))
    assert r.status_code == 202, r.text
    job = wait_job(live, r.json()["job"]["id"], timeout=900)
    assert job["status"] == "succeeded", job
    asm = live.client.get(f"/v1/assemblies/{r.json()['id']}").json()
    cands = asm["candidates"]
    assert asm["status"] == "done" and 1 <= len(cands) <= 3 and asm["chosen"] == cands[0]
    for c in cands:
        assert len(c["blocks"]) == 3
        assert c["predicted_params"] == c["built_params"]
        assert abs(c["predicted_flops"] - c["built_flops"]) <= 0.005 * c["built_flops"]
        assert c["predicted_params"] <= 5_000_000
        assert c["solver_status"] in ("optimal", "time_limit")
    finite = [c["proxy_scores"]["naswot"]["value"] for c in cands if c["proxy_scores"]["naswot"]["finite"]]
    assert finite == sorted(finite, reverse=True)  # ranked by the proxy
    assert cands[0]["heldout_accuracy"] > 0.2  # ten classes: chance is 0.1

    ckpt = live.client.get(f"/v1/assemblies/{asm['id']}/checkpoint")
    assert ckpt.status_code == 200 and ckpt.headers["etag"]
    archive = tmp_path / "assembly.zip"
    archive.write_bytes(ckpt.content)
    with zipfile.ZipFile(io.BytesIO(ckpt.content)) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
    assert {"model.safetensors", "manifest.json", "README.md"} <= names
    assert manifest["params"] == cands[0]["built_params"]
    # The archive is loadable with core alone, in a fresh process, without the service.
    code = (
        "import sys, torch; from core.stitch import load_archive; "
        f"net = load_archive({str(archive)!r}); "
        f"print(net(torch.zeros(2, *net.input_size)).shape)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert str(torch.Size([2, 10])) in out.stdout
