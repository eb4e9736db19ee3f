"""The model registry over HTTP with a real worker: register, upload, refuse pickles, dissect, nodes."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import numpy as np
import timm
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from tests.api.conftest import LiveService, wait_job


def _register(live: LiveService, name: str, arch: str, **extra: object) -> dict:
    r = live.client.post("/v1/models", json={"name": name, "source": {"timm": arch}, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def test_register_timm_model_records_costs_and_weights(live: LiveService) -> None:
    m = _register(live, "resnet-tiny", "test_resnet", num_classes=10, input_size=[3, 64, 64])
    assert m["status"] == "ready" and m["num_classes"] == 10 and m["input_size"] == [3, 64, 64]
    net = timm.create_model("test_resnet", num_classes=10)
    assert m["params"] == sum(p.numel() for p in net.parameters())
    assert m["flops"] > 0
    weights = live.client.get(f"/v1/models/{m['id']}/weights")
    assert weights.status_code == 200
    state = load_safetensors(weights.content)
    net.load_state_dict(state)  # the stored weights fit the architecture exactly
    assert live.client.get(f"/v1/models/{m['id']}").json()["name"] == "resnet-tiny"
    dup = live.client.post("/v1/models", json={"name": "resnet-tiny", "source": {"timm": "test_resnet"}})
    assert dup.status_code == 409 and m["id"] in dup.json()["error"]["message"]


def test_unknown_architecture_is_422_with_suggestions(live: LiveService) -> None:
    r = live.client.post("/v1/models", json={"name": "nope", "source": {"timm": "resnet5O"}})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "unknown_architecture" and "resnet5O" in err["message"]
    assert (
        live.client.post("/v1/models", json={"name": "nope", "source": {"timm": "test_vit"}}).status_code
        == 201
    )


def _upload(live: LiveService, name: str, arch: str, payload: bytes, **form: str):  # type: ignore[no-untyped-def]
    files = {"weights": (f"{name}.bin", io.BytesIO(payload), "application/octet-stream")}
    return live.client.post(
        "/v1/models:upload", files=files, data={"name": name, "architecture": arch, **form}
    )


def test_safetensors_upload_round_trip(live: LiveService) -> None:
    torch.manual_seed(3)
    net = timm.create_model("test_convnext", num_classes=5)
    blob = save_safetensors({k: v.contiguous() for k, v in net.state_dict().items()})
    r = _upload(live, "convnext-up", "test_convnext", blob, num_classes="5", input_size="[3, 64, 64]")
    assert r.status_code == 201, r.text
    files = {"weights": ("w.safetensors", io.BytesIO(blob), "application/octet-stream")}
    form = {
        "name": "convnext-up",
        "architecture": "test_convnext",
        "num_classes": "5",
        "input_size": "[3, 64, 64]",
    }
    key = {"Idempotency-Key": "upload-once"}
    first = live.client.post("/v1/models:upload", files=files, data=form, headers=key)
    assert first.status_code == 409  # the name is taken by the upload above
    form["name"] = "convnext-up-2"
    files = {"weights": ("w.safetensors", io.BytesIO(blob), "application/octet-stream")}
    first = live.client.post("/v1/models:upload", files=files, data=form, headers=key)
    files = {"weights": ("w.safetensors", io.BytesIO(blob), "application/octet-stream")}
    again = live.client.post("/v1/models:upload", files=files, data=form, headers=key)
    assert first.status_code == 201 and again.status_code == 201 and again.json()["id"] == first.json()["id"]
    got = load_safetensors(live.client.get(f"/v1/models/{r.json()['id']}/weights").content)
    for k, v in net.state_dict().items():
        assert torch.equal(got[k], v), k


class _Trap:
    """Unpickling this creates a file: the proof that the server never unpickles."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (str(self.path), "w"))


def test_pickle_is_refused_without_being_unpickled(live: LiveService, tmp_path: Path) -> None:
    trap = tmp_path / "unpickled-was-here"
    payload = pickle.dumps({"state_dict": _Trap(trap)})
    r = _upload(live, "pickled", "test_resnet", payload)
    assert r.status_code == 415
    assert "safetensors" in r.json()["error"]["message"]
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, buf)  # PyTorch's zip format is refused the same way
    assert _upload(live, "zipped", "test_resnet", buf.getvalue()).status_code == 415
    assert not trap.exists()
    assert live.client.get("/v1/models").json()["items"] == [
        m for m in live.client.get("/v1/models").json()["items"] if m["name"] not in ("pickled", "zipped")
    ]


def test_wrong_keys_are_422_with_the_key_lists(live: LiveService) -> None:
    net = timm.create_model("test_resnet", num_classes=10)
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    state.pop("fc.weight")
    state["extra.weight"] = torch.zeros(3)
    conv = next(k for k, v in state.items() if v.ndim == 4)
    state[conv] = torch.zeros(1, 1, 1, 1)
    r = _upload(live, "bad-keys", "test_resnet", save_safetensors(state), num_classes="10")
    assert r.status_code == 422, r.text
    details = r.json()["error"]["details"]
    assert details["missing"] == ["fc.weight"]
    assert details["unexpected"] == ["extra.weight"]
    assert len(details["mismatched"]) == 1 and details["mismatched"][0].startswith(conv)
    # The name is free again: a failed registration leaves no model behind.
    assert all(m["name"] != "bad-keys" for m in live.client.get("/v1/models").json()["items"])


def test_dissect_resnet50_nodes_and_flops(live: LiveService) -> None:
    m = _register(live, "resnet50", "resnet50", input_size=[3, 224, 224])
    early = live.client.get(f"/v1/models/{m['id']}/nodes")
    assert early.status_code == 409 and "dissect" in early.json()["error"]["message"]
    job = live.client.post(f"/v1/models/{m['id']}/dissect").json()
    done = wait_job(live, job["id"])
    assert done["status"] == "succeeded", done
    body = live.client.get(f"/v1/models/{m['id']}/nodes").json()
    nodes = body["nodes"]
    assert len(nodes) == 16
    assert [n["path"] for n in nodes[:3]] == ["layer1.0", "layer1.1", "layer1.2"]
    assert nodes[0]["in_shape"] == [64, 56, 56] and nodes[-1]["out_shape"] == [2048, 7, 7]
    total = sum(n["flops"] for n in nodes) + body["stem"]["flops"] + body["head"]["flops"]
    assert abs(total - m["flops"]) / m["flops"] < 0.01
    assert body["max_abs_error"] <= 1e-5


def test_branching_model_fails_dissection_with_a_named_node(live: LiveService) -> None:
    m = _register(live, "densenet", "densenet121", input_size=[3, 64, 64], num_classes=10)
    done = wait_job(live, live.client.post(f"/v1/models/{m['id']}/dissect").json()["id"])
    assert done["status"] == "failed"
    assert done["error_code"] == "not_a_line_graph", done
    assert live.client.get(f"/v1/models/{m['id']}").json()["dissection_status"] == "failed"


def test_dataset_upload_and_validation(live: LiveService) -> None:
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    np.savez(buf, images=rng.integers(0, 255, (20, 28, 28), dtype=np.uint8), labels=np.arange(20) % 4)
    r = live.client.post("/v1/datasets", files={"file": ("d.npz", buf.getvalue())}, data={"name": "tiny"})
    assert r.status_code == 201, r.text
    assert (
        r.json()["num_images"] == 20 and r.json()["num_classes"] == 4 and r.json()["image_shape"] == [28, 28]
    )
    bad = io.BytesIO()
    np.savez(bad, x=np.zeros(3))
    r = live.client.post("/v1/datasets", files={"file": ("d.npz", bad.getvalue())}, data={"name": "bad"})
    assert r.status_code == 422 and "'images' and 'labels'" in r.json()["error"]["message"]
    r = live.client.post(
        "/v1/datasets", files={"file": ("d.npz", json.dumps([1]).encode())}, data={"name": "x"}
    )
    assert r.status_code == 415


def test_an_idempotency_key_whose_model_was_deleted_is_refused_not_left_pending(live: LiveService) -> None:
    body = {"name": "keyed-model", "source": {"timm": "test_resnet"}}
    key = {"Idempotency-Key": "register-keyed-model"}
    first = live.client.post("/v1/models", json=body, headers=key)
    assert first.status_code == 201, first.text
    assert live.client.post("/v1/models", json=body, headers=key).json()["id"] == first.json()["id"]
    assert live.client.delete(f"/v1/models/{first.json()['id']}").status_code in (200, 204)
    again = live.client.post("/v1/models", json=body, headers=key)
    assert again.status_code == 409 and "was deleted" in again.json()["error"]["message"], again.text
    names = [m["name"] for m in live.client.get("/v1/models", params={"limit": 200}).json()["items"]]
    assert "keyed-model" not in names  # no row left pending, holding the name


def test_seeds_and_learning_rates_out_of_range_are_422_not_stuck_jobs(live: LiveService) -> None:
    for seed in (-1, 2**70):
        r = live.client.post(
            "/v1/partitions", json={"model_ids": ["a", "b"], "probe_dataset_id": "d", "k": 2, "seed": seed}
        )
        assert r.status_code == 422 and "seed" in r.text, r.text
    body = {
        "partition_id": "p", "target_dataset_id": "d", "constraints": {"max_params": 10**6},
        "training": {"mode": "frozen", "lr": 1e308},
    }  # fmt: skip
    r = live.client.post("/v1/assemblies", json=body)
    assert r.status_code == 422 and "lr" in r.text, r.text
