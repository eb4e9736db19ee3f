"""Distributed mode for real: the API and two Celery workers against PostgreSQL + Redis.

One worker is SIGKILLed (with its pool children) while it runs a job; every job must still succeed,
exactly once, and progress must have been observed.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from core.store.db import session_factory
from core.store.migrate import upgrade
from core.store.models import Job, JobEvent
from tests.conftest import drop_pg_database, make_pg_database
from tests.system.processes import (
    service_env,
    start_api,
    start_workers,
    stop,
    submit_canaries,
)

pytestmark = pytest.mark.system

N_JOBS = 20


def test_twenty_canaries_survive_a_killed_worker(redis_url: str, tmp_path: Path) -> None:
    db_url = make_pg_database()
    upgrade(db_url)
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    env = service_env(
        REASSEMBLY_DATABASE_URL=db_url,
        REASSEMBLY_BROKER_URL=redis_url,
        REASSEMBLY_DATA_DIR=str(tmp_path),
        REASSEMBLY_LEASE_SECONDS="3",
        REASSEMBLY_REAPER_INTERVAL_SECONDS="1",
    )
    api, base = start_api(env, tmp_path / "api.log")
    workers = start_workers(env, tmp_path, 2)
    sessions = session_factory(db_url)
    try:
        ids = submit_canaries(base, N_JOBS)

        victim = workers[0]
        killed_job = _wait_for_job_run_by(sessions, victim.pid, timeout=60)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)

        deadline = time.monotonic() + 120
        statuses: dict[str, str] = {}
        while time.monotonic() < deadline:
            statuses = {i: httpx.get(f"{base}/v1/jobs/{i}").json()["status"] for i in ids}
            if all(s in ("succeeded", "failed", "cancelled") for s in statuses.values()):
                break
            time.sleep(0.5)

        with sessions() as s:
            events = list(s.scalars(select(JobEvent).where(JobEvent.job_id.in_(ids))))
            killed = s.get(Job, killed_job)
            assert killed is not None
            killed_attempts = killed.attempts
        completions = {i: sum(1 for e in events if e.job_id == i and e.event == "succeeded") for i in ids}
        progress_seen = [e.progress for e in events if e.event == "progress" and 0 < e.progress < 1]
        print(
            f"\nSIGKILL test: {sum(s == 'succeeded' for s in statuses.values())}/{N_JOBS} succeeded; "
            f"killed worker pid {victim.pid} while it ran {killed_job}; "
            f"that job took {killed_attempts} attempts; "
            f"completions per job: min {min(completions.values())} max {max(completions.values())}; "
            f"{len(progress_seen)} intermediate progress events"
        )
        assert statuses == {i: "succeeded" for i in ids}, statuses
        assert all(n == 1 for n in completions.values()), completions
        assert killed_attempts == 2
        assert progress_seen, "no intermediate progress was recorded"
    finally:
        for w in workers:
            stop(w)
        stop(api)
        drop_pg_database(db_url)


def _wait_for_job_run_by(sessions, worker_pid: int, timeout: float) -> str:  # type: ignore[no-untyped-def]
    """The id of a job currently running in the worker whose session leader is ``worker_pid``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sessions() as s:
            running = list(s.scalars(select(Job).where(Job.status == "running")))
        for job in running:
            pid = int((job.lease_owner or "::").split(":")[1] or 0)
            try:
                if pid and os.getpgid(pid) == worker_pid and 0.05 < job.progress < 0.9:
                    return job.id
            except ProcessLookupError:
                continue
        time.sleep(0.05)
    raise AssertionError("no job was seen running in the worker to kill")
