"""Fault (d): DELETE for datasets, partitions, assemblies, components, compositions and models —
refused with 409 naming the dependents while anything (a row or a queued job) uses them — and uploads
refused after they were stored (a name taken, a failed registration) keep no blob or row.

Most cases use the API on PostgreSQL + Redis without a worker (a started job stays queued); rows a
finished job would have written are inserted as it would have left them. The failed registration
needs the real worker (``live``).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.settings import Settings
from core.store.db import session_factory
from core.store.ids import new_id
from core.store.models import Artifact, AssemblyRow, ComponentRow, CompositionRow, Model, PartitionRow
from tests.api.conftest import LiveService

OWNER = "anonymous"  # no tokens configured: every request is this owner


def _npz(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    np.savez(buffer, images=rng.integers(0, 256, (20, 8, 8), dtype=np.uint8), labels=np.arange(20) % 2)
    return buffer.getvalue()


def _dataset(client: TestClient, name: str, data: bytes | None = None) -> dict:
    r = client.post(
        "/v1/datasets", files={"file": (f"{name}.npz", data or _npz(hash(name) % 1000))}, data={"name": name}
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _model(settings: Settings, name: str, **fields: object) -> str:
    with session_factory(settings.resolved_database_url)() as s:
        row = Model(
            id=new_id("mdl"), name=f"{name}-{new_id('n')}", owner=OWNER, architecture="test_resnet",
            source="timm", num_classes=2, input_size=[3, 8, 8], mean=[], std=[], status="ready", **fields,
        )  # fmt: skip
        s.add(row)
        s.commit()
        return row.id


def _add(settings: Settings, row: object) -> str:
    with session_factory(settings.resolved_database_url)() as s:
        s.add(row)
        s.commit()
        return str(row.id)  # type: ignore[attr-defined]


def _refused(client: TestClient, url: str, *names: str) -> dict:
    r = client.delete(url)
    assert r.status_code == 409, (url, r.status_code, r.text)
    error = r.json()["error"]
    assert error["code"] == "conflict"
    for name in names:
        assert name in error["message"], (name, error["message"])
    assert "first" in error["message"] or "cancel" in error["message"], error["message"]  # what to do
    return dict(error)


def test_a_dataset_partition_and_assembly_are_refused_while_used_then_deleted(
    client: TestClient, service_settings: Settings
) -> None:
    ds = _dataset(client, "del-probe")
    target = _dataset(client, "del-target")
    m1, m2 = _model(service_settings, "del-a"), _model(service_settings, "del-b")
    part = _add(
        service_settings,
        PartitionRow(id=new_id("par"), owner=OWNER, status="done", model_ids=[m1, m2],
                     probe_dataset_id=ds["id"], config={}, result={}),
    )  # fmt: skip
    asm = _add(
        service_settings,
        AssemblyRow(id=new_id("asm"), owner=OWNER, status="done", partition_id=part,
                    target_dataset_id=target["id"], config={"heldout_dataset_id": ds["id"]}, result={}),
    )  # fmt: skip

    error = _refused(client, f"/v1/datasets/{ds['id']}", part, asm)
    assert {d["id"] for d in error["details"]["dependents"]} == {part, asm}  # probes it, holds it out
    _refused(client, f"/v1/datasets/{target['id']}", asm)
    _refused(client, f"/v1/partitions/{part}", asm)
    _refused(client, f"/v1/models/{m1}", part)  # a partition lists the model

    assert client.delete(f"/v1/assemblies/{asm}").status_code == 204
    assert client.get(f"/v1/assemblies/{asm}").status_code == 404
    assert client.delete(f"/v1/assemblies/{asm}").status_code == 404  # gone: like an unknown id
    assert client.delete(f"/v1/partitions/{part}").status_code == 204
    assert client.get(f"/v1/partitions/{part}").status_code == 404
    for dataset in (ds, target):
        assert client.delete(f"/v1/datasets/{dataset['id']}").status_code == 204, dataset
        assert client.get(f"/v1/datasets/{dataset['id']}").status_code == 404
        assert client.get(f"/v1/artifacts/{dataset['artifact_id']}").status_code == 404  # its row went too
    assert client.delete(f"/v1/models/{m1}").status_code == 204


def test_a_component_is_refused_while_a_composition_uses_it(
    client: TestClient, service_settings: Settings
) -> None:
    ds = _dataset(client, "del-lego")
    model = _model(service_settings, "del-lego")
    parts = [
        _add(service_settings, ComponentRow(id=new_id("cmp"), owner=OWNER, status="done", model_id=model,
                                            dataset_id=ds["id"], config={}, result={"class_labels": [i]}))
        for i in range(2)
    ]  # fmt: skip
    comp = _add(
        service_settings,
        CompositionRow(id=new_id("cps"), owner=OWNER, status="done", component_ids=parts,
                       scaling_dataset_id=ds["id"], config={}, result={}),
    )  # fmt: skip
    _refused(client, f"/v1/components/{parts[0]}", comp)
    _refused(client, f"/v1/datasets/{ds['id']}", parts[0], parts[1], comp)
    # A finished component is standalone: its model may go (the schema clears component.model_id).
    assert client.delete(f"/v1/models/{model}").status_code == 204
    assert client.get(f"/v1/components/{parts[0]}").json()["model_id"] is None
    assert client.delete(f"/v1/compositions/{comp}").status_code == 204
    for part in parts:
        assert client.delete(f"/v1/components/{part}").status_code == 204
    assert client.delete(f"/v1/datasets/{ds['id']}").status_code == 204


def test_a_queued_job_blocks_the_delete_until_it_is_cancelled(
    client: TestClient, service_settings: Settings
) -> None:
    model = _model(service_settings, "del-queued", dissection_status="none")
    job = client.post(f"/v1/models/{model}/dissect")  # no worker here: it stays queued
    assert job.status_code == 202, job.text
    error = _refused(client, f"/v1/models/{model}", job.json()["id"])
    assert "cancel" in error["message"]
    assert client.post(f"/v1/jobs/{job.json()['id']}/cancel").status_code in (200, 202)
    assert client.delete(f"/v1/models/{model}").status_code == 204


def test_unknown_ids_are_404(client: TestClient) -> None:
    for collection in ("datasets", "partitions", "assemblies", "components", "compositions", "models"):
        r = client.delete(f"/v1/{collection}/nope_{collection}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", (collection, r.text)


def test_an_artifact_shared_by_two_rows_stays_until_the_last_one_goes(
    client: TestClient, service_settings: Settings
) -> None:
    data = _npz(4242)
    first, second = _dataset(client, "del-shared-1", data), _dataset(client, "del-shared-2", data)
    assert first["artifact_id"] == second["artifact_id"]  # one row per owner and content
    assert client.delete(f"/v1/datasets/{first['id']}").status_code == 204
    assert client.get(f"/v1/artifacts/{second['artifact_id']}").content == data
    assert client.delete(f"/v1/datasets/{second['id']}").status_code == 204
    assert client.get(f"/v1/artifacts/{second['artifact_id']}").status_code == 404


def _blob(settings: Settings, data: bytes) -> Path:
    sha = hashlib.sha256(data).hexdigest()
    return settings.resolved_artifact_root / sha[:2] / sha[2:4] / sha


def _weights(seed: int) -> bytes:
    from safetensors.numpy import save

    return save({"w": np.random.default_rng(seed).standard_normal((4, 4)).astype(np.float32)})


def test_an_upload_refused_because_the_name_is_taken_keeps_no_blob(
    client: TestClient, service_settings: Settings
) -> None:
    with session_factory(service_settings.resolved_database_url)() as s:
        taken = s.get(Model, _model(service_settings, "del-taken"))
        assert taken is not None
        name = taken.name
    payload = _weights(7)
    r = client.post(
        "/v1/models:upload",
        files={"weights": ("w.safetensors", io.BytesIO(payload), "application/octet-stream")},
        data={"name": name, "architecture": "test_resnet"},
    )
    assert r.status_code == 409 and "already exists" in r.json()["error"]["message"], r.text
    assert not _blob(service_settings, payload).exists()
    sha = hashlib.sha256(payload).hexdigest()
    with session_factory(service_settings.resolved_database_url)() as s:
        assert s.scalar(select(Artifact).where(Artifact.sha256 == sha)) is None


def test_a_failed_registration_keeps_no_model_artifact_row_or_blob(live: LiveService) -> None:
    payload = _weights(8)  # keys that are not test_resnet's: the worker refuses them
    r = live.client.post(
        "/v1/models:upload",
        files={"weights": ("w.safetensors", io.BytesIO(payload), "application/octet-stream")},
        data={"name": "del-bad-weights", "architecture": "test_resnet", "num_classes": "10"},
    )
    assert r.status_code == 422, r.text
    sha = hashlib.sha256(payload).hexdigest()
    with session_factory(live.settings.resolved_database_url)() as s:
        assert s.scalar(select(Model).where(Model.name == "del-bad-weights")) is None
        assert s.scalar(select(Artifact).where(Artifact.sha256 == sha)) is None
    assert not _blob(live.settings, payload).exists()
