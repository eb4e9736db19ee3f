"""Waiting on a job holds no database connection, and only a bounded number of requests wait at once.

Real PostgreSQL with a one-connection pool (so a wait that held its connection would starve everyone
else into a pool timeout) and a real Redis broker for ``start_job``'s dispatch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.jobs_service import WaitSlots, start_job, wait_for_job, wait_for_job_async
from core.settings import Settings, get_settings
from core.store.db import engine_for, session_factory
from core.store.jobs import claim_job, create_job, finish_job
from core.store.migrate import upgrade
from core.store.models import Job
from tests.conftest import drop_pg_database, make_pg_database, redis_test_db


@pytest.fixture()
def pg(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("REASSEMBLY_DB_POOL_SIZE", "1")
    monkeypatch.setenv("REASSEMBLY_DB_MAX_OVERFLOW", "0")
    monkeypatch.setenv("REASSEMBLY_DB_POOL_TIMEOUT_SECONDS", "1")
    get_settings.cache_clear()
    engine_for.cache_clear()
    url = make_pg_database()
    try:
        upgrade(url)
        yield url
    finally:
        drop_pg_database(url)
        get_settings.cache_clear()
        engine_for.cache_clear()


def _queued(sessions: sessionmaker[Session]) -> str:
    with sessions() as s:
        job, _ = create_job(s, kind="canary", queue="cpu", params={"seconds": 0}, owner="o")
        s.commit()
        return job.id


def _finish_later(sessions: sessionmaker[Session], job_id: str, after: float) -> threading.Thread:
    def run() -> None:
        time.sleep(after)
        with sessions() as s:
            claim = claim_job(s, job_id, "w", lease_seconds=30, max_attempts=3)
            assert claim is not None
            assert finish_job(s, claim, "succeeded", result={})

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_start_job_leaves_the_request_session_without_a_connection(pg: str, tmp_path: Path) -> None:
    import redis

    broker = redis_test_db(2)
    redis.Redis.from_url(broker).flushdb()
    settings = Settings(database_url=pg, broker_url=broker, data_dir=tmp_path)
    sessions = session_factory(pg)
    with sessions() as session:
        job, created = start_job(
            session, sessions, settings, kind="canary", params={"seconds": 0}, owner="o", idempotency_key="k"
        )
        assert created and job.dispatched_at is not None  # refreshed after the broker took it
        assert engine_for(pg).pool.checkedout() == 0  # type: ignore[attr-defined]
    redis.Redis.from_url(broker).flushdb()


def test_waiters_share_one_connection_with_other_requests(pg: str) -> None:
    sessions = session_factory(pg)
    job_id = _queued(sessions)
    finisher = _finish_later(sessions, job_id, after=1.5)
    slots = WaitSlots(limit=6)
    reads = 0
    with ThreadPoolExecutor(6) as pool:
        waiting = [pool.submit(wait_for_job, sessions, job_id, 10.0, slots=slots) for _ in range(6)]
        while not all(f.done() for f in waiting):  # another tenant's reads meanwhile
            with sessions() as s:
                s.scalars(select(Job.id)).all()
            reads += 1
            time.sleep(0.02)
        statuses = [f.result().status for f in waiting]  # a held connection: pool TimeoutError here
    finisher.join()
    assert statuses == ["succeeded"] * 6
    assert reads > 10


def test_beyond_the_limit_requests_do_not_wait(pg: str) -> None:
    sessions = session_factory(pg)
    job_id = _queued(sessions)  # never finishes
    slots = WaitSlots(limit=2)

    def timed() -> tuple[float, str]:
        t = time.monotonic()
        job = wait_for_job(sessions, job_id, 1.5, slots=slots)
        return time.monotonic() - t, job.status

    with ThreadPoolExecutor(5) as pool:
        results = sorted(pool.map(lambda _: timed(), range(5)))
    waited = [d for d, _ in results]
    assert [st for _, st in results] == ["queued"] * 5
    assert all(d < 0.5 for d in waited[:3]), waited  # no slot: answered at once (202)
    assert all(d >= 1.4 for d in waited[3:]), waited  # the two that had a slot waited the timeout
    t = time.monotonic()
    assert wait_for_job(sessions, job_id, 0.3, slots=slots).status == "queued"  # slots were released
    assert time.monotonic() - t >= 0.3


def test_async_wait_returns_the_finished_job(pg: str) -> None:
    sessions = session_factory(pg)
    job_id = _queued(sessions)
    finisher = _finish_later(sessions, job_id, after=0.5)

    async def main() -> list[str]:
        results: list[str] = []

        async def one() -> None:
            results.append((await wait_for_job_async(sessions, job_id, 10.0)).status)

        async with anyio.create_task_group() as tg:
            for _ in range(20):  # twenty waiters, one connection, at most a thread each per poll
                tg.start_soon(one)
        return results

    # A thread of its own: an event loop another test left in this thread must not matter.
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(anyio.run, main).result() == ["succeeded"] * 20
    finisher.join()
