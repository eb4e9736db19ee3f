"""Every way a job ends without success leaves its resource failed with the job's reason.

Real PostgreSQL; the jobs run through the worker's real ``run_job`` and the store's real claim,
finish and cancel paths. The handlers here are test handlers that fail the way real code can."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from core.store.artifacts import record_artifact
from core.store.db import session_factory
from core.store.ids import new_id
from core.store.jobs import claim_job, create_job, request_cancel
from core.store.models import AssemblyRow, Dataset, Job, Model, PartitionRow
from worker.runner import JobContext, run_job


@pytest.fixture()
def sessions(service_settings: Settings) -> sessionmaker[Session]:
    return session_factory(service_settings.resolved_database_url)


def _model(s: Session, **over: Any) -> Model:
    row = Model(
        id=new_id("mdl"), name=new_id("name"), architecture="test_resnet", source="timm",
        num_classes=2, input_size=[3, 32, 32], mean=[0.5], std=[0.5], **over,
    )  # fmt: skip
    s.add(row)
    return row


def _assembly(s: Session) -> AssemblyRow:
    art = record_artifact(s, "0" * 64, 1, owner="anonymous", media_type="application/x-npz", filename="d.npz")
    ds = Dataset(
        id=new_id("ds"), name="d", artifact_id=art.id, num_images=1, image_shape=[8, 8], num_classes=2,
        class_names=None,
    )  # fmt: skip
    s.add(ds)
    s.flush()
    part = PartitionRow(id=new_id("prt"), model_ids=[], probe_dataset_id=ds.id, config={}, status="done")
    s.add(part)
    s.flush()
    row = AssemblyRow(id=new_id("asm"), partition_id=part.id, target_dataset_id=ds.id, config={})
    s.add(row)
    return row


def _job(s: Session, kind: str, subject: str) -> str:
    job, _ = create_job(s, kind=kind, queue="cpu", params={}, owner="anonymous", subject_id=subject)
    s.commit()
    return job.id


def test_a_plain_exception_fails_the_job_and_its_assembly(
    sessions: sessionmaker[Session], service_settings: Settings
) -> None:
    with sessions() as s:
        asm = _assembly(s).id
        s.commit()
        job = _job(s, "assembly", asm)

    def crash(ctx: JobContext) -> dict[str, Any]:
        raise RuntimeError("a bug that is not a ReassemblyError")

    assert run_job(job, service_settings, {"assembly": crash}) == "failed"
    with sessions() as s:
        row, j = s.get(AssemblyRow, asm), s.get(Job, job)
        assert j is not None and row is not None
        assert j.status == "failed" and j.error_code == "internal_error"
        assert row.status == "failed" and row.result == {
            "error": {
                "code": "internal_error",
                "message": "RuntimeError: a bug that is not a ReassemblyError",
            }
        }


def test_a_worker_lost_max_attempts_times_fails_the_model(
    sessions: sessionmaker[Session], service_settings: Settings
) -> None:
    with sessions() as s:
        model = _model(s).id
        s.commit()
        job = _job(s, "register_model", model)
        for attempt in range(service_settings.max_attempts):  # each claim's lease lapses at once
            assert claim_job(s, job, f"dead-worker-{attempt}", -1.0, service_settings.max_attempts)
        assert claim_job(s, job, "next-worker", 10.0, service_settings.max_attempts) is None
    with sessions() as s:
        j, m = s.get(Job, job), s.get(Model, model)
        assert j is not None and m is not None
        assert j.status == "failed" and j.error_code == "worker_lost"
        assert m.status == "failed"


def test_cancelling_a_queued_partition_fails_it_and_a_running_dissection_too(
    sessions: sessionmaker[Session], service_settings: Settings
) -> None:
    with sessions() as s:
        part = _assembly(s).partition_id
        s.get(PartitionRow, part).status = "pending"  # type: ignore[union-attr]
        model = _model(s, status="ready", dissection_status="running").id
        s.commit()
        queued = _job(s, "partition", part)
        running = _job(s, "dissect", model)
        request_cancel(s, queued)

    def cancelled_midway(ctx: JobContext) -> dict[str, Any]:
        with ctx.sessions() as s:
            request_cancel(s, ctx.claim.job_id)
        ctx.progress(0.5, "the next progress point sees the cancel")
        return {}

    assert run_job(running, service_settings, {"dissect": cancelled_midway}) == "cancelled"
    with sessions() as s:
        p, m = s.get(PartitionRow, part), s.get(Model, model)
        assert p is not None and m is not None
        assert p.status == "failed" and p.result == {
            "error": {"code": "cancelled", "message": "cancelled before it started"}
        }
        assert m.dissection_status == "failed" and m.dissection is not None
        assert m.dissection["error"]["code"] == "cancelled"
        assert m.status == "ready"  # the model itself is fine: only its dissection stopped
