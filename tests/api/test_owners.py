"""Two owners on one service: each one's artifacts, datasets and model names are their own."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis
from fastapi.testclient import TestClient

from core.settings import Settings
from tests.conftest import redis_test_db

ALICE = {"Authorization": "Bearer tokA"}
BOB = {"Authorization": "Bearer tokB"}


@pytest.fixture(scope="module")
def two_owners(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The API with two tokens; no worker (registration answers 202 at once, its job stays queued)."""
    from api.main import create_app
    from core.store.migrate import upgrade

    broker = redis_test_db(2)
    redis.Redis.from_url(broker).flushdb()
    upgrade(pg_url)
    settings = Settings(
        database_url=pg_url,
        broker_url=broker,
        data_dir=Path(tmp_path_factory.mktemp("owners")),
        api_tokens="tokA:alice,tokB:bob",
        register_wait_seconds=0.0,
    )
    with TestClient(create_app(settings, migrate=False)) as client:
        yield client


def _npz() -> bytes:
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    np.savez(buffer, images=rng.integers(0, 256, (20, 8, 8), dtype=np.uint8), labels=np.arange(20) % 2)
    return buffer.getvalue()


def _upload(client: TestClient, headers: dict[str, str], name: str, data: bytes) -> dict:
    r = client.post(
        "/v1/datasets", files={"file": (f"{name}.npz", data)}, data={"name": name}, headers=headers
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_another_owners_dataset_and_artifact_are_404_with_and_without_range(two_owners: TestClient) -> None:
    data = _npz()
    alice = _upload(two_owners, ALICE, "alice-secret", data)
    art = alice["artifact_id"]
    mine = two_owners.get(f"/v1/artifacts/{art}", headers=ALICE)
    assert mine.status_code == 200 and mine.content == data
    for headers in ({}, {"Range": "bytes=0-9"}):
        r = two_owners.get(f"/v1/artifacts/{art}", headers=BOB | headers)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text
    assert two_owners.get(f"/v1/datasets/{alice['id']}", headers=BOB).status_code == 404
    unknown = two_owners.get("/v1/artifacts/art_does_not_exist", headers=BOB)
    assert (
        unknown.json()["error"]["message"].replace("art_does_not_exist", art)
        == (two_owners.get(f"/v1/artifacts/{art}", headers=BOB).json()["error"]["message"])
    )  # nothing tells Bob the id exists


def test_identical_bytes_give_each_owner_their_own_artifact(two_owners: TestClient) -> None:
    data = _npz()
    alice = _upload(two_owners, ALICE, "alice-same-bytes", data)
    bob = _upload(two_owners, BOB, "bob-same-bytes", data)
    assert alice["artifact_id"] != bob["artifact_id"]
    got = two_owners.get(f"/v1/artifacts/{bob['artifact_id']}", headers=BOB)
    assert got.status_code == 200 and got.content == data
    assert "bob-same-bytes.npz" in got.headers["content-disposition"]
    assert two_owners.get(f"/v1/artifacts/{bob['artifact_id']}", headers=ALICE).status_code == 404


def test_both_owners_may_use_the_same_model_name(two_owners: TestClient) -> None:
    body = {"name": "shared-name", "source": {"timm": "test_resnet"}}
    a = two_owners.post("/v1/models", json=body, headers=ALICE)
    b = two_owners.post("/v1/models", json=body, headers=BOB)
    assert a.status_code in (201, 202) and b.status_code in (201, 202), (a.text, b.text)
    assert a.json()["id"] != b.json()["id"]
    again = two_owners.post("/v1/models", json=body, headers=BOB)
    assert again.status_code == 409 and b.json()["id"] in again.json()["error"]["message"]
    assert two_owners.get(f"/v1/models/{a.json()['id']}", headers=BOB).status_code == 404


def test_another_owners_model_dataset_and_job_are_404_everywhere(two_owners: TestClient) -> None:
    created = two_owners.post(
        "/v1/models", json={"name": "alice-model", "source": {"timm": "test_resnet"}}, headers=ALICE
    )
    model, job = created.json()["id"], created.json()["job"]["id"]
    other = two_owners.post(
        "/v1/models", json={"name": "alice-model-2", "source": {"timm": "test_resnet"}}, headers=ALICE
    )
    dataset = _upload(two_owners, ALICE, "alice-probe", _npz())["id"]
    requests = [
        ("GET", f"/v1/models/{model}", None),
        ("GET", f"/v1/models/{model}/nodes", None),
        ("GET", f"/v1/models/{model}/weights", None),
        ("POST", f"/v1/models/{model}/dissect", None),
        ("DELETE", f"/v1/models/{model}", None),
        ("GET", f"/v1/datasets/{dataset}", None),
        ("GET", f"/v1/jobs/{job}", None),
        ("POST", f"/v1/jobs/{job}/cancel", None),
        (
            "POST",
            "/v1/partitions",
            {"model_ids": [model, other.json()["id"]], "probe_dataset_id": dataset, "k": 2},
        ),
    ]
    for method, url, body in requests:
        r = two_owners.request(method, url, json=body, headers=BOB)
        assert r.status_code == 404, (method, url, r.status_code, r.text)
    assert model not in {m["id"] for m in two_owners.get("/v1/models", headers=BOB).json()["items"]}
    assert job not in {j["id"] for j in two_owners.get("/v1/jobs", headers=BOB).json()["items"]}
    assert dataset not in {d["id"] for d in two_owners.get("/v1/datasets", headers=BOB).json()["items"]}
    assert two_owners.get(f"/v1/models/{model}", headers=ALICE).status_code == 200
    assert two_owners.get(f"/v1/jobs/{job}", headers=ALICE).json()["status"] != "cancelled"


def test_another_owners_components_and_compositions_are_404_and_cannot_be_composed(
    two_owners: TestClient, pg_url: str
) -> None:
    from core.store.db import session_factory
    from core.store.ids import new_id
    from core.store.models import ComponentRow, CompositionRow

    dataset = _upload(two_owners, ALICE, "alice-lego-data", _npz())["id"]
    created = two_owners.post(
        "/v1/models", json={"name": "alice-lego-model", "source": {"timm": "test_resnet"}}, headers=ALICE
    )
    model = created.json()["id"]
    # No worker here: Alice's rows are written as her finished jobs would have left them.
    parts = [new_id("cmp"), new_id("cmp")]
    composition = new_id("cps")
    with session_factory(pg_url)() as s:
        for label, cid in enumerate(parts):
            s.add(
                ComponentRow(
                    id=cid, owner="alice", status="done", model_id=model, dataset_id=dataset,
                    config={"classes": [label]},
                    result={"class_labels": [label], "architecture": "test_resnet"},
                )
            )  # fmt: skip
        s.flush()
        s.add(
            CompositionRow(
                id=composition, owner="alice", status="done", component_ids=parts, scaling_dataset_id=dataset,
                config={}, result={"class_labels": [0, 1]},
            )
        )  # fmt: skip
        s.commit()
    requests = [
        ("GET", f"/v1/components/{parts[0]}", None),
        ("GET", f"/v1/components/{parts[0]}/checkpoint", None),
        ("GET", f"/v1/compositions/{composition}", None),
        ("GET", f"/v1/compositions/{composition}/checkpoint", None),
        ("POST", "/v1/compositions", {"component_ids": parts, "scaling_dataset_id": dataset}),
        ("POST", "/v1/components", {"model_id": model, "dataset_id": dataset, "classes": [0]}),
    ]
    for method, url, body in requests:
        r = two_owners.request(method, url, json=body, headers=BOB)
        assert r.status_code == 404, (method, url, r.status_code, r.text)
        assert r.json()["error"]["code"] == "not_found"
    mine = two_owners.get(f"/v1/components/{parts[0]}", headers=ALICE)
    assert mine.status_code == 200 and mine.json()["result"]["class_labels"] == [0]
    assert two_owners.get(f"/v1/compositions/{composition}", headers=ALICE).json()["component_ids"] == parts
    pending = two_owners.post(  # her model's registration job never ran here: not ready
        "/v1/components", json={"model_id": model, "dataset_id": dataset, "classes": [0]}, headers=ALICE
    )
    assert pending.status_code == 409 and "not ready" in pending.json()["error"]["message"], pending.text
    # Alice may compose her own components (queued: no worker), with the same body Bob was refused.
    ok = two_owners.post(
        "/v1/compositions", json={"component_ids": parts, "scaling_dataset_id": dataset}, headers=ALICE
    )
    assert ok.status_code == 202 and ok.json()["job"]["kind"] == "composition", ok.text


def test_another_owner_cannot_delete_a_dataset_partition_or_assembly(
    two_owners: TestClient, pg_url: str
) -> None:
    from core.store.db import session_factory
    from core.store.ids import new_id
    from core.store.models import AssemblyRow, PartitionRow

    dataset = _upload(two_owners, ALICE, "alice-keep", _npz())["id"]
    partition, assembly = new_id("par"), new_id("asm")
    with session_factory(pg_url)() as s:
        s.add(PartitionRow(id=partition, owner="alice", status="failed", model_ids=[],
                           probe_dataset_id=dataset, config={}))  # fmt: skip
        s.flush()
        s.add(AssemblyRow(id=assembly, owner="alice", status="failed", partition_id=partition,
                          target_dataset_id=dataset, config={}))  # fmt: skip
        s.commit()
    urls = [f"/v1/assemblies/{assembly}", f"/v1/partitions/{partition}", f"/v1/datasets/{dataset}"]
    for url in urls:
        r = two_owners.delete(url, headers=BOB)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", (url, r.text)
        unknown = two_owners.delete(url.rsplit("/", 1)[0] + "/xyz_unknown", headers=BOB)
        assert (
            unknown.json()["error"]["message"].replace("xyz_unknown", url.rsplit("/", 1)[1])
            == (r.json()["error"]["message"])
        )  # nothing tells Bob the id exists
    for url in urls:  # still Alice's, and hers to delete (dependents first)
        assert two_owners.get(url, headers=ALICE).status_code == 200, url
        assert two_owners.delete(url, headers=ALICE).status_code == 204, url
