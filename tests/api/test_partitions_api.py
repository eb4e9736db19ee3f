"""Partitions over HTTP on the trained zoo with the Fashion-MNIST probe set, with a real worker."""

from __future__ import annotations

import io

from PIL import Image

from tests.api.conftest import LiveService, wait_job

SMALL = {"k": 3, "epsilon": 0.5, "restarts": 20, "probe_images": 256, "batch_size": 32, "seed": 1}


def _partition(live: LiveService, model_ids: list[str], dataset: dict, **extra: object) -> dict:
    body = {"model_ids": model_ids, "probe_dataset_id": dataset["id"], **SMALL, **extra}
    r = live.client.post("/v1/partitions", json=body)
    assert r.status_code == 202, r.text
    return dict(r.json())


def test_partition_of_the_zoo(live: LiveService, zoo_models: list[dict], fashion_dataset: dict) -> None:
    ids = [m["id"] for m in zoo_models]
    created = _partition(live, ids, fashion_dataset)
    job = wait_job(live, created["job"]["id"])
    assert job["status"] == "succeeded", job
    assert sorted(job["result"]["sketches_computed"]) == sorted(ids)
    part = live.client.get(f"/v1/partitions/{created['id']}").json()
    assert part["status"] == "done" and len(part["sets"]) == 3 and part["objective"] > 0
    for s in part["sets"]:
        assert [b["model_id"] for b in s["blocks"]] == ids  # one block per model per set, in order
        assert s["anchor"]["similarity_to_anchor"] == 2.0
    for m in zoo_models:  # each model is cut into 3 contiguous blocks covering all its nodes
        blocks = [next(b for b in s["blocks"] if b["model_id"] == m["id"]) for s in part["sets"]]
        n_nodes = len(live.client.get(f"/v1/models/{m['id']}/nodes").json()["nodes"])
        assert blocks[0]["first_node"] == 0 and blocks[-1]["last_node"] == n_nodes - 1
        assert all(a["last_node"] + 1 == b["first_node"] for a, b in zip(blocks, blocks[1:], strict=False))
        assert all(b["last_node"] - b["first_node"] + 1 < 1.5 * n_nodes / 3 for b in blocks)  # the bound
    for name, min_side in (("similarity.png", 200), ("partition.png", 150)):
        r = live.client.get(f"/v1/partitions/{created['id']}/{name}")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        img = Image.open(io.BytesIO(r.content))
        assert img.format == "PNG" and min(img.size) >= min_side


def test_adding_a_model_sketches_only_that_model(
    live: LiveService, zoo_models: list[dict], fashion_dataset: dict
) -> None:
    ids = [m["id"] for m in zoo_models]
    first, new = ids[:-1], ids[-1]
    created = _partition(live, first, fashion_dataset, seed=2)
    assert wait_job(live, created["job"]["id"])["status"] == "succeeded"
    r = live.client.post(f"/v1/partitions/{created['id']}/models", json={"model_id": new})
    assert r.status_code == 202, r.text
    job = wait_job(live, r.json()["id"])
    assert job["status"] == "succeeded", job
    assert job["result"]["sketches_computed"] == [new]  # one forward pass: the new model's
    part = live.client.get(f"/v1/partitions/{created['id']}").json()
    assert part["model_ids"] == ids and all(len(s["blocks"]) == len(ids) for s in part["sets"])
    again = live.client.post(f"/v1/partitions/{created['id']}/models", json={"model_id": new})
    assert again.status_code == 409


def test_infeasible_bound_fails_with_the_model_named(
    live: LiveService, zoo_models: list[dict], fashion_dataset: dict
) -> None:
    ids = [m["id"] for m in zoo_models]
    created = _partition(live, ids, fashion_dataset, k=6, epsilon=0.0)
    job = wait_job(live, created["job"]["id"])
    assert job["status"] == "failed" and job["error_code"] == "infeasible", job
    assert "epsilon" in job["error_message"] or "ε" in job["error_message"]
    part = live.client.get(f"/v1/partitions/{created['id']}").json()
    assert part["status"] == "failed" and part["error"]["code"] == "infeasible"


def test_partition_request_validation(
    live: LiveService, zoo_models: list[dict], fashion_dataset: dict
) -> None:
    one = _body = {"model_ids": [zoo_models[0]["id"]], "probe_dataset_id": fashion_dataset["id"]}
    assert live.client.post("/v1/partitions", json=one).status_code == 422
    dup = {**_body, "model_ids": [zoo_models[0]["id"]] * 2}
    assert live.client.post("/v1/partitions", json=dup).status_code == 409
    missing = {**_body, "model_ids": [zoo_models[0]["id"], "mdl_missing"]}
    assert live.client.post("/v1/partitions", json=missing).status_code == 404
    key = {"Idempotency-Key": "partition-once"}
    body = {
        "model_ids": [m["id"] for m in zoo_models[:2]],
        "probe_dataset_id": fashion_dataset["id"],
        **SMALL,
    }
    a = live.client.post("/v1/partitions", json=body, headers=key)
    b = live.client.post("/v1/partitions", json=body, headers=key)
    assert a.status_code == 202 and b.status_code == 200 and a.json()["id"] == b.json()["id"]
    wait_job(live, a.json()["job"]["id"])
