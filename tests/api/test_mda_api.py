"""Model LEGO over HTTP with a real worker, PostgreSQL and Redis: components and compositions of
small CNNs trained on the bundled Fashion-MNIST subset by the zoo tooling.

The models are the ``mda_models`` fixture of tests/api/conftest.py (vgg_mda on classes 0–4 and on
5–9, resnet_mda on 0–4).
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch

from tests.api.conftest import LiveService, wait_job


def _component(live: LiveService, model: dict, dataset: dict, **body: object) -> dict:
    r = live.client.post(
        "/v1/components", json={"model_id": model["id"], "dataset_id": dataset["id"], **body}
    )
    assert r.status_code == 202, r.text
    job = wait_job(live, r.json()["job"]["id"])
    assert job["status"] == "succeeded", job
    got = live.client.get(f"/v1/components/{r.json()['id']}")
    assert got.status_code == 200 and got.json()["status"] == "done", got.text
    return dict(got.json())


@pytest.fixture(scope="module")
def components(live: LiveService, mda_models: dict[str, dict], fashion_dataset: dict) -> dict[str, dict]:
    """Done components: vgg_A's classes 0–2, vgg_B's outputs 0–1 (= labels 5, 6), resnet_A's 3–4."""
    return {
        "a": _component(live, mda_models["vgg_A"], fashion_dataset, classes=[0, 1, 2], seed=1),
        "b": _component(live, mda_models["vgg_B"], fashion_dataset, classes=[0, 1], class_labels=[5, 6]),
        "resnet": _component(live, mda_models["resnet_A"], fashion_dataset, classes=[3, 4]),
    }


def _archive(live: LiveService, path: str) -> tuple[bytes, dict]:
    from core.mda.service import load_archive

    r = live.client.get(path)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip", r.text
    loaded = load_archive(r.content)
    return r.content, {"net": loaded.component.model, "manifest": loaded.manifest}


def _probe(dataset_labels: tuple[int, ...], n: int = 6) -> torch.Tensor:
    """A few bundled images of these labels, prepared as the zoo models were trained (1×32×32)."""
    from core.zoo.data import bundled_subset_path, prepare

    with np.load(bundled_subset_path(), allow_pickle=False) as data:
        images, labels = data["images"], data["labels"]
    pick = np.flatnonzero(np.isin(labels, dataset_labels))[:n]
    return prepare(images[pick], (1, 32, 32), 0.2874, 0.3543)


def test_a_component_is_smaller_and_outputs_only_its_classes(
    live: LiveService, components: dict[str, dict], mda_models: dict[str, dict]
) -> None:
    comp = components["a"]
    res = comp["result"]
    assert comp["model_id"] == mda_models["vgg_A"]["id"] and comp["checkpoint_available"]
    assert res["params_after"] < res["params_before"] and res["flops_after"] < res["flops_before"]
    assert res["classes"] == [0, 1, 2] and res["class_labels"] == [0, 1, 2]
    assert res["samples_per_class"] == [10, 10, 10]  # 1 % of ~240 fit images per class, at least 10
    assert res["split"]["eval"] == res["eval_images"] > 0 and res["split"]["fit"] > 3 * res["split"]["eval"]
    for key in ("accuracy_base", "accuracy_base_restricted", "accuracy_component"):
        assert 0.0 <= res[key] <= 1.0
    data, got = _archive(live, f"/v1/components/{comp['id']}/checkpoint")
    manifest = got["manifest"]
    assert manifest["source_model"]["id"] == mda_models["vgg_A"]["id"]
    assert manifest["classes"] == [0, 1, 2] and manifest["class_labels"] == [0, 1, 2]
    assert manifest["thresholds"] == {
        "alpha_conv": 0.3,
        "beta_conv": 0.2,
        "alpha_linear": 0.4,
        "beta_linear": 0.3,
    }
    weights = zipfile.ZipFile(io.BytesIO(data)).read("model.safetensors")
    import hashlib

    assert manifest["weights"]["sha256"] == res["weights_sha256"] == hashlib.sha256(weights).hexdigest()
    with torch.no_grad():
        out = got["net"](_probe((0, 1, 2)))
    assert out.shape == (6, 3)  # only the three requested logits
    assert sum(p.numel() for p in got["net"].parameters()) == res["params_after"]
    card = zipfile.ZipFile(io.BytesIO(data)).read("README.md").decode()
    assert "vgg_mda" in card and f"{res['params_after']:,}" in card


def test_a_composition_of_two_models_components_reports_score1_with_and_without_scaling(
    live: LiveService, components: dict[str, dict], fashion_dataset: dict
) -> None:
    ids = [components["a"]["id"], components["b"]["id"]]
    r = live.client.post(
        "/v1/compositions", json={"component_ids": ids, "scaling_dataset_id": fashion_dataset["id"]}
    )
    assert r.status_code == 202, r.text
    assert wait_job(live, r.json()["job"]["id"])["status"] == "succeeded"
    comp = live.client.get(f"/v1/compositions/{r.json()['id']}").json()
    res = comp["result"]
    assert comp["status"] == "done" and comp["component_ids"] == ids
    assert res["class_labels"] == [0, 1, 2, 5, 6]  # A's labels, then B's outputs 0, 1 as labels 5, 6
    assert 0.0 <= res["score1_unscaled"] <= 1.0 and 0.0 <= res["score1"] <= 1.0 and res["score2"] is None
    assert len(res["scales"]) == 5 and all(s > 0 for s in res["scales"])
    assert res["max_abs_diff"] <= 1e-5  # alignment padding is exact before scaling
    assert res["split"]["validation"] > 0 and res["split"]["eval"] == res["eval_images"] > 0
    assert (
        res["params_before"]
        == components["a"]["result"]["params_after"] + components["b"]["result"]["params_after"]
    )
    _, got = _archive(live, f"/v1/compositions/{comp['id']}/checkpoint")
    assert got["manifest"]["class_labels"] == [0, 1, 2, 5, 6] and got["manifest"]["scales"] == res["scales"]
    assert [c["id"] for c in got["manifest"]["components"]] == ids
    with torch.no_grad():
        assert got["net"](_probe((0, 5))).shape == (6, 5)
    plain = live.client.post(
        "/v1/compositions",
        json={"component_ids": ids, "scaling_dataset_id": fashion_dataset["id"], "parameter_scaling": False},
    )
    assert wait_job(live, plain.json()["job"]["id"])["status"] == "succeeded"
    unscaled = live.client.get(f"/v1/compositions/{plain.json()['id']}").json()["result"]
    assert (
        unscaled["scales"] is None
        and unscaled["score1"] == unscaled["score1_unscaled"] == res["score1_unscaled"]
    )


def test_component_requests_are_checked_before_queueing(
    live: LiveService, mda_models: dict[str, dict], fashion_dataset: dict
) -> None:
    model, dataset = mda_models["vgg_A"]["id"], fashion_dataset["id"]  # vgg_A has 5 outputs
    cases = [
        ({"classes": []}, "classes"),
        ({"classes": [1, 2, 1]}, "more than once"),
        ({"classes": [0, 5]}, "do not exist"),
        ({"classes": [0, 1], "class_labels": [0]}, "class_labels has 1 entries"),
        ({"classes": [0, 1], "class_labels": [0, 12]}, "no images labelled [12]"),
        ({"classes": [-1]}, "classes"),
    ]
    for extra, reason in cases:
        r = live.client.post("/v1/components", json={"model_id": model, "dataset_id": dataset, **extra})
        assert r.status_code == 422, (extra, r.text)
        assert reason in r.json()["error"]["message"], (extra, r.json())
    unknown = live.client.post(
        "/v1/components", json={"model_id": "mdl_does_not_exist", "dataset_id": dataset, "classes": [0]}
    )
    assert unknown.status_code == 404 and "mdl_does_not_exist" in unknown.json()["error"]["message"]
    no_data = live.client.post(
        "/v1/components", json={"model_id": model, "dataset_id": "ds_does_not_exist", "classes": [0]}
    )
    assert no_data.status_code == 404
    assert live.client.get("/v1/components/cmp_does_not_exist").status_code == 404
    assert live.client.get("/v1/compositions/cps_does_not_exist/checkpoint").status_code == 404


def test_composition_requests_are_checked_before_queueing(
    live: LiveService, components: dict[str, dict], mda_models: dict[str, dict], fashion_dataset: dict
) -> None:
    a, b, resnet = (components[k]["id"] for k in ("a", "b", "resnet"))
    body = {"scaling_dataset_id": fashion_dataset["id"]}
    mixed = live.client.post("/v1/compositions", json={**body, "component_ids": [a, resnet]})
    assert mixed.status_code == 422, mixed.text
    message = mixed.json()["error"]["message"]
    assert "'vgg_mda'" in message and "'resnet_mda'" in message and "same architecture" in message
    assert live.client.post("/v1/compositions", json={**body, "component_ids": [a]}).status_code == 422
    twice = live.client.post("/v1/compositions", json={**body, "component_ids": [a, a]})
    assert twice.status_code == 422 and "twice" in twice.json()["error"]["message"]
    order = live.client.post(
        "/v1/compositions", json={**body, "component_ids": [a, b], "classes": [0, 1, 2, 5]}
    )
    assert order.status_code == 422 and "missing [6]" in order.json()["error"]["message"], order.text
    clash = _component(live, mda_models["vgg_B"], fashion_dataset, classes=[0])  # label 0: also a's
    overlap = live.client.post("/v1/compositions", json={**body, "component_ids": [a, clash["id"]]})
    assert overlap.status_code == 422 and "class 0 is served by" in overlap.json()["error"]["message"]
    # A component whose job failed (the dataset has no image of label 7) is not done: 409.
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    np.savez(buffer, images=rng.integers(0, 256, (40, 28, 28), dtype=np.uint8), labels=np.arange(40) % 2 * 9)
    sparse = live.client.post(
        "/v1/datasets", files={"file": ("sparse.npz", buffer.getvalue())}, data={"name": "sparse"}
    )
    assert sparse.status_code == 201, sparse.text
    r = live.client.post(
        "/v1/components",
        json={
            "model_id": mda_models["vgg_B"]["id"],
            "dataset_id": sparse.json()["id"],
            "classes": [2],
            "class_labels": [7],
        },
    )
    assert r.status_code == 202, r.text
    job = wait_job(live, r.json()["job"]["id"])
    assert job["status"] == "failed" and "labels [7]" in job["error_message"], job
    failed = live.client.get(f"/v1/components/{r.json()['id']}").json()
    assert (
        failed["status"] == "failed"
        and failed["error"]["code"] == "invalid_input"
        and failed["result"] is None
    )
    assert live.client.get(f"/v1/components/{failed['id']}/checkpoint").status_code == 409
    not_done = live.client.post("/v1/compositions", json={**body, "component_ids": [b, failed["id"]]})
    assert not_done.status_code == 409 and failed["id"] in not_done.json()["error"]["message"]


def test_component_checkpoint_downloads_with_etag(live: LiveService, components: dict[str, dict]) -> None:
    path = f"/v1/components/{components['b']['id']}/checkpoint"
    first = live.client.get(path)
    assert first.status_code == 200 and f"{components['b']['id']}.zip" in first.headers["content-disposition"]
    again = live.client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
