"""The generated Python client (clients/python, package ``reassembly_client``) drives the whole flow
against a live service (issue 15, done-when 1): ``reassembly api`` and ``reassembly worker`` as
subprocesses on a fresh PostgreSQL database and a Redis database, and nothing but the client's
functions between the test and the server — register the trained tiny zoo (safetensors uploads),
dissect, upload datasets (an npz and an ImageFolder zip), partition, fetch both pictures, assemble
with FZ training, poll the jobs, download the checkpoint and run it standalone on real images.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis
import torch
from PIL import Image

from core.store.migrate import upgrade
from core.zoo.data import FASHION_CLASSES, bundled_subset_path, load_npz, prepare
from tests.conftest import drop_pg_database, make_pg_database, redis_test_db
from tests.system.processes import free_port, reassembly, service_env, start, stop, wait_ready

pytestmark = pytest.mark.system

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DONE = ("succeeded", "failed", "cancelled")


class Service:
    def __init__(self, base_url: str, logs: list[Path]):
        from reassembly_client import Client

        # Not raise_on_unexpected_status: the generator leaves out the image/png and application/zip
        # answers, so a 200 PNG is "unexpected" to it; sync_detailed(...).content holds the bytes.
        self.client = Client(base_url=base_url, timeout=httpx.Timeout(300.0))
        self.logs = logs

    def tail(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-2500:]}" for log in self.logs)

    def ok(self, answer: Any, kind: type) -> Any:
        """The answer when it is the expected schema; else fail with the server's error envelope."""
        assert isinstance(answer, kind), f"expected {kind.__name__}, got {answer!r}\n{self.tail()}"
        return answer

    def wait(self, job_id: str, timeout: float = 600) -> Any:
        from reassembly_client.api.jobs import get_job
        from reassembly_client.models import JobOut

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.ok(get_job.sync(job_id, client=self.client), JobOut)
            if job.status in DONE:
                assert job.status == "succeeded", (
                    f"job {job.kind} {job.status}: {job.error_message}\n{self.tail()}"
                )
                return job
            time.sleep(0.3)
        raise AssertionError(f"job {job_id} did not finish in {timeout} s\n{self.tail()}")


@pytest.fixture
def service(tmp_path: Path) -> Any:
    db_url = make_pg_database()
    upgrade(db_url)
    broker = redis_test_db(2)
    redis.Redis.from_url(broker).flushdb()
    data = tmp_path / "data"
    env = service_env(
        REASSEMBLY_DATABASE_URL=db_url, REASSEMBLY_BROKER_URL=broker, REASSEMBLY_DATA_DIR=str(data)
    )
    env["OMP_NUM_THREADS"] = "1"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    logs = [tmp_path / "api.log", tmp_path / "worker.log"]
    api = start(reassembly("api", "--host", "127.0.0.1", "--port", str(port)), env, logs[0])
    worker = start(
        reassembly("worker", "--queues", "cpu,gpu", "--pool", "prefork", "--concurrency", "2"), env, logs[1]
    )
    try:
        wait_ready(base, api, logs[0])
        yield Service(base, logs)
    finally:
        stop(worker)
        stop(api)
        drop_pg_database(db_url)


def _imagefolder_zip(images: np.ndarray, labels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for c in (0, 1, 2):
            for i, px in enumerate(images[labels == c][:3]):
                png = io.BytesIO()
                Image.fromarray(px, mode="L").save(png, format="PNG")
                zf.writestr(f"three/{FASHION_CLASSES[c].replace('/', '_')}/{i}.png", png.getvalue())
    return buf.getvalue()


def test_generated_client_drives_the_whole_flow(service: Service, tiny_zoo: Path, tmp_path: Path) -> None:
    from reassembly_client.api.assemblies import create_assembly, download_assembly_checkpoint, get_assembly
    from reassembly_client.api.datasets import create_dataset
    from reassembly_client.api.models import dissect_model, get_model, upload_model
    from reassembly_client.api.partitions import (
        create_partition,
        get_partition,
        get_partition_png,
        get_partition_similarity_png,
    )
    from reassembly_client.models import (
        AssemblyCreate,
        AssemblyOut,
        BodyCreateDataset,
        BodyUploadModel,
        Constraints,
        DatasetOut,
        ErrorOut,
        JobOut,
        ModelOut,
        PartitionCreate,
        PartitionOut,
        Training,
        TrainingMode,
    )
    from reassembly_client.types import File

    c = service.client
    started = time.monotonic()

    # 1. Register the zoo: its safetensors files uploaded with the fields of zoo.json.
    manifest = json.loads((tiny_zoo / "zoo.json").read_text())
    models = []
    for entry in manifest["models"]:
        with open(tiny_zoo / entry["weights_file"], "rb") as weights:
            body = BodyUploadModel(
                weights=File(
                    payload=weights, file_name=entry["weights_file"], mime_type="application/octet-stream"
                ),
                name=f"zoo-{entry['name']}",
                architecture=entry["arch"],
                num_classes=entry["num_classes"],
                input_size=json.dumps(entry["input_size"]),
                model_kwargs=json.dumps({**entry["kwargs"], "in_chans": entry["input_size"][0]}),
                class_names=json.dumps(entry["class_names"]),
                mean=json.dumps(entry["mean"]),
                std=json.dumps(entry["std"]),
                metrics=json.dumps(
                    {"source_accuracy": entry["accuracy"], "source_classes": entry["classes"]}
                ),
            )
            model = service.ok(upload_model.sync(client=c, body=body), ModelOut)
        assert model.status == "ready" and model.architecture == entry["arch"]
        models.append(model)
    assert len(models) >= 2

    # A refusal comes back as the documented error envelope (ErrorOut), not an exception or a dict.
    entry = manifest["models"][0]
    refused = upload_model.sync(
        client=c,
        body=BodyUploadModel(
            weights=File(payload=io.BytesIO(b"\x80\x04K\x01."), file_name="model.pt"),
            name="a-pickle",
            architecture=entry["arch"],
            num_classes=entry["num_classes"],
            input_size=json.dumps(entry["input_size"]),
        ),  # fmt: skip
    )
    assert isinstance(refused, ErrorOut), refused
    assert refused.error.code == "unsupported_media_type" and "safetensors" in refused.error.message

    # 2. Dissect every model (jobs, polled).
    jobs = [service.ok(dissect_model.sync(m.id, client=c), JobOut) for m in models]
    for job in jobs:
        service.wait(job.id)
    for m in models:
        assert service.ok(get_model.sync(m.id, client=c), ModelOut).dissection_status == "done"

    # 3. Datasets: the bundled Fashion-MNIST subset as an npz, and a few of its images as an ImageFolder.
    with open(bundled_subset_path(), "rb") as f:
        fashion = service.ok(
            create_dataset.sync(
                client=c,
                body=BodyCreateDataset(file=File(payload=f, file_name="fashion.npz"), name="fashion"),
            ),
            DatasetOut,
        )
    assert fashion.num_images == 3000 and fashion.image_shape == [28, 28]
    images, labels = load_npz(bundled_subset_path())
    folder = service.ok(
        create_dataset.sync(
            client=c,
            body=BodyCreateDataset(
                file=File(payload=io.BytesIO(_imagefolder_zip(images, labels)), file_name="three.zip"),
                name="three",
            ),
        ),
        DatasetOut,
    )
    assert folder.num_images == 9 and folder.class_names == sorted(
        n.replace("/", "_") for n in FASHION_CLASSES[:3]
    )

    # 4. Partition (a job) and both pictures.
    created = service.ok(
        create_partition.sync(
            client=c,
            body=PartitionCreate(
                model_ids=[m.id for m in models],
                probe_dataset_id=fashion.id,
                k=3,
                epsilon=0.5,
                restarts=20,
                probe_images=128,
                batch_size=32,
            ),  # fmt: skip
        ),
        PartitionOut,
    )
    assert isinstance(created.job, JobOut)
    service.wait(created.job.id)
    partition = service.ok(get_partition.sync(created.id, client=c), PartitionOut)
    assert partition.status == "done" and len(partition.sets) == 3
    for picture in (get_partition_similarity_png, get_partition_png):
        answer = picture.sync_detailed(partition.id, client=c)
        assert answer.status_code == 200, answer.content[:300]
        assert answer.content.startswith(PNG_SIGNATURE) and len(answer.content) > 1000
        assert answer.headers["content-type"] == "image/png"

    # 5. An assembly with FZ training (smallest settings), polled, then its checkpoint downloaded.
    asm = service.ok(
        create_assembly.sync(
            client=c,
            body=AssemblyCreate(
                partition_id=partition.id,
                target_dataset_id=fashion.id,
                constraints=Constraints(max_params=5_000_000),
                candidates=1,
                pool_size=8,
                probe_images=64,
                fit_images=300,
                heldout_images=100,
                training=Training(mode=TrainingMode.FROZEN, epochs=1, batch_size=64),
            ),  # fmt: skip
        ),
        AssemblyOut,
    )
    assert isinstance(asm.job, JobOut)
    service.wait(asm.job.id, timeout=900)
    done = service.ok(get_assembly.sync(asm.id, client=c), AssemblyOut)
    assert done.status == "done" and done.checkpoint_available, done
    chosen = done.chosen.to_dict()
    assert [e["epoch"] for e in chosen["training"]] == [0, 1]  # FZ ran: epoch 0 is the closed-form start
    answer = download_assembly_checkpoint.sync_detailed(done.id, client=c)
    assert answer.status_code == 200 and answer.headers["etag"]
    archive = tmp_path / "assembly.zip"
    archive.write_bytes(answer.content)
    with zipfile.ZipFile(archive) as zf:
        assert {"model.safetensors", "manifest.json", "README.md"} <= set(zf.namelist())
        assert json.loads(zf.read("manifest.json"))["params"] == chosen["built_params"]

    # 6. The archive alone (no service): rebuilt by core, run on real images.
    from core.stitch import load_archive

    net = load_archive(archive)
    first = net.spec.donor(net.spec.blocks[0].model)
    x = prepare(images[:256], net.input_size, first.mean or 0.0, first.std or 1.0)
    with torch.no_grad():
        logits = net(x)
    assert logits.shape == (256, 10) and torch.isfinite(logits).all()
    accuracy = float((logits.argmax(1).numpy() == labels[:256]).mean())
    assert accuracy > 0.2, accuracy  # ten classes: chance is 0.1
    print(
        f"\nclient flow: {len(models)} models, partition {partition.id}, assembly {done.id} "
        f"(held-out {chosen['heldout_accuracy']:.3f}), standalone accuracy on 256 images {accuracy:.3f}, "
        f"{time.monotonic() - started:.1f} s"
    )
