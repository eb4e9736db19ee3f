"""Faults for real: a broker that loses its data, a database that refuses connections, a full pool.

(a) The API and two Celery workers on PostgreSQL and a private redis-server without persistence; 20
    canary jobs are queued, Redis is SIGKILLed 3 s later and restarted empty 5 s after that. Every job
    must still succeed, exactly once: the reaper re-sends queued jobs whose message nobody consumed.
(b) PostgreSQL refuses the API's connections (backends terminated, new connections disallowed): the
    API answers 503 with Retry-After and the ``database_unavailable`` envelope, then 200 again as soon
    as connections are allowed. An exhausted pool answers the same 503 after the pool timeout.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text

from core.settings import Settings, get_settings
from core.store.db import engine_for, session_factory
from core.store.migrate import upgrade
from core.store.models import Job, JobEvent
from tests.conftest import PG_ADMIN_URL, REDIS_TEST_URL, drop_pg_database, make_pg_database
from tests.system.processes import (
    free_port,
    service_env,
    start_api,
    start_redis,
    start_workers,
    stop,
    submit_canaries,
)

pytestmark = pytest.mark.system

N_JOBS = 20
TERMINAL = ("succeeded", "failed", "cancelled")


def test_twenty_queued_jobs_survive_a_broker_restart_without_persistence(tmp_path: Path) -> None:
    db_url = make_pg_database()
    upgrade(db_url)
    redis_port = free_port()
    broker = start_redis(redis_port, tmp_path / "redis-1.log")
    env = service_env(
        REASSEMBLY_DATABASE_URL=db_url,
        REASSEMBLY_BROKER_URL=f"redis://127.0.0.1:{redis_port}/0",
        REASSEMBLY_DATA_DIR=str(tmp_path),
        REASSEMBLY_LEASE_SECONDS="3",
        REASSEMBLY_REAPER_INTERVAL_SECONDS="1",
        REASSEMBLY_REQUEUE_AFTER_SECONDS="2",
        REASSEMBLY_REQUEUE_MAX_SECONDS="8",
    )
    api, base = start_api(env, tmp_path / "api.log")
    workers = start_workers(env, tmp_path, 2)
    sessions = session_factory(db_url)
    try:
        ids = submit_canaries(base, N_JOBS)
        submitted = time.monotonic()

        time.sleep(3.0)
        stop(broker, sig=9)  # SIGKILL: every message in the broker dies with it
        killed = time.monotonic()
        with sessions() as s:
            queued_at_kill = s.scalar(
                select(func.count()).select_from(Job).where(Job.id.in_(ids), Job.status == "queued")
            )
        time.sleep(5.0)
        broker = start_redis(redis_port, tmp_path / "redis-2.log")
        restarted = time.monotonic()

        deadline = time.monotonic() + 60
        statuses: dict[str, str] = {}
        while time.monotonic() < deadline:
            with sessions() as s:
                rows = s.execute(select(Job.id, Job.status).where(Job.id.in_(ids)))
                statuses = {job_id: status for job_id, status in rows}
            if all(st in TERMINAL for st in statuses.values()):
                break
            time.sleep(0.25)
        done = time.monotonic()

        with sessions() as s:
            events = list(s.scalars(select(JobEvent).where(JobEvent.job_id.in_(ids))))
        completions = {i: sum(1 for e in events if e.job_id == i and e.event == "succeeded") for i in ids}
        claims = sum(1 for e in events if e.event == "claimed")
        logs = "".join((tmp_path / f"w{i}.log").read_text(errors="replace") for i in range(2))
        resends = len(re.findall(r"re-dispatching job \S+ \(unconsumed\)", logs))
        succeeded = sum(st == "succeeded" for st in statuses.values())
        print(
            f"\nbroker-restart test: {succeeded}/{N_JOBS} succeeded; {queued_at_kill} were queued when "
            f"redis-server (no persistence) was SIGKILLed {killed - submitted:.1f} s after submission and "
            f"restarted {restarted - killed:.1f} s later; all finished {done - restarted:.1f} s after the "
            f"restart ({done - submitted:.1f} s in all); {resends} unconsumed re-sends, {claims} claims; "
            f"completions per job: min {min(completions.values())} max {max(completions.values())}"
        )
        assert queued_at_kill and queued_at_kill >= 5, "too few jobs were queued at the kill to test anything"
        assert statuses == {i: "succeeded" for i in ids}, statuses
        assert all(n == 1 for n in completions.values()), completions
        assert claims == N_JOBS, f"{claims} claims for {N_JOBS} jobs: a job was claimed twice"
        assert resends >= queued_at_kill - 2, "the queued jobs were not re-sent after the restart"
    finally:
        for w in workers:
            stop(w)
        stop(api)
        stop(broker)
        drop_pg_database(db_url)


# ---------------------------------------------------------------------------------------------------
# (b) PostgreSQL unreachable during a request.


def _admin(sql: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(sql))
    admin.dispose()


def _refuse_connections(db_name: str, refuse: bool) -> None:
    """Disallow (or allow again) new connections to one database, terminating its current backends."""
    _admin(f'ALTER DATABASE "{db_name}" ALLOW_CONNECTIONS {"false" if refuse else "true"}')
    if refuse:
        _admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{db_name}' AND pid <> pg_backend_pid()"
        )


@pytest.fixture()
def pg_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, str]]:
    """The real app on its own PostgreSQL database, with a small pool and short timeouts."""
    monkeypatch.setenv("REASSEMBLY_DB_POOL_SIZE", "2")
    monkeypatch.setenv("REASSEMBLY_DB_MAX_OVERFLOW", "0")
    monkeypatch.setenv("REASSEMBLY_DB_POOL_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("REASSEMBLY_DB_CONNECT_TIMEOUT_SECONDS", "2")
    get_settings.cache_clear()
    engine_for.cache_clear()
    url = make_pg_database()
    upgrade(url)
    from api.main import create_app

    settings = Settings(database_url=url, broker_url=REDIS_TEST_URL, data_dir=tmp_path)
    try:
        with TestClient(create_app(settings, migrate=False)) as client:
            yield client, url
    finally:
        _refuse_connections(url.rsplit("/", 1)[1], refuse=False)
        drop_pg_database(url)
        get_settings.cache_clear()
        engine_for.cache_clear()


def _assert_database_unavailable(r: Any) -> None:  # an httpx-style response
    assert r.status_code == 503, r.text
    assert r.headers.get("Retry-After", "").isdigit(), r.headers
    error = r.json()["error"]
    assert error["code"] == "database_unavailable", error
    assert "database" in error["message"] and "retry" in error["message"], error


def test_database_refusing_connections_answers_503_then_recovers(pg_api: tuple[TestClient, str]) -> None:
    client, url = pg_api
    assert client.get("/v1/models").status_code == 200  # the pool now holds a live connection
    _refuse_connections(url.rsplit("/", 1)[1], refuse=True)
    try:
        t = time.monotonic()
        # First with the pool's dead connection (pre-ping fails, reconnect refused), then a fresh one.
        for _ in range(3):
            _assert_database_unavailable(client.get("/v1/models"))
        refused_in = (time.monotonic() - t) / 3
        assert client.get("/readyz").status_code == 503
    finally:
        _refuse_connections(url.rsplit("/", 1)[1], refuse=False)
    r = client.get("/v1/models")
    assert r.status_code == 200, r.text
    print(f"\ndatabase-refusing test: 3 x 503 with Retry-After in {refused_in:.2f} s each; next request 200")


def test_database_server_down_answers_503(tmp_path: Path) -> None:
    """No server listening at all (PostgreSQL stopped): connection refused is a 503 too."""
    from api.main import create_app

    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/reassembly"
    settings = Settings(database_url=url, broker_url=REDIS_TEST_URL, data_dir=tmp_path)
    try:
        with TestClient(create_app(settings, migrate=False)) as client:
            _assert_database_unavailable(client.get("/v1/models"))
            _assert_database_unavailable(client.post("/v1/jobs:canary", json={"seconds": 0}))
    finally:
        engine_for.cache_clear()


def test_exhausted_pool_answers_503_not_500(pg_api: tuple[TestClient, str]) -> None:
    client, url = pg_api
    engine = engine_for(url)  # the app's engine: pool_size 2, no overflow, 1 s pool timeout
    held = [engine.connect() for _ in range(2)]
    try:
        t = time.monotonic()
        _assert_database_unavailable(client.get("/v1/models"))
        waited = time.monotonic() - t
        assert 0.9 <= waited < 5, waited
    finally:
        for conn in held:
            conn.close()
    assert client.get("/v1/models").status_code == 200
    print(f"\nexhausted-pool test: 503 with Retry-After after {waited:.2f} s (pool timeout 1 s); then 200")


# ---------------------------------------------------------------------------------------------------
# Registration waits without a database connection, and only a bounded number of requests wait.


def test_45_concurrent_registrations_leave_other_tenants_fast(tmp_path: Path) -> None:
    """45 registrations while no worker is free (none runs): 0 x 5xx, each a 201 or 202, and another
    tenant's reads stay fast meanwhile (the waits hold no connection and at most 8 threads)."""
    import redis

    from tests.conftest import redis_test_db

    db_url = make_pg_database()
    upgrade(db_url)
    broker = redis_test_db(2)
    redis.Redis.from_url(broker).flushdb()
    env = service_env(
        REASSEMBLY_DATABASE_URL=db_url,
        REASSEMBLY_BROKER_URL=broker,
        REASSEMBLY_DATA_DIR=str(tmp_path),
        REASSEMBLY_API_TOKENS="alice-token:alice,bob-token:bob",
        REASSEMBLY_REGISTER_WAIT_SECONDS="12",
    )
    api, base = start_api(env, tmp_path / "api.log")
    alice = {"Authorization": "Bearer alice-token"}
    bob = {"Authorization": "Bearer bob-token"}
    try:
        assert httpx.get(f"{base}/v1/models", headers=bob).status_code == 200

        def register(i: int) -> int:
            body = {"name": f"load-{i}", "source": {"timm": "resnet18", "pretrained": False}}
            return httpx.post(f"{base}/v1/models", json=body, headers=alice, timeout=60).status_code

        from concurrent.futures import ThreadPoolExecutor

        latencies: list[float] = []
        t = time.monotonic()
        with ThreadPoolExecutor(45) as pool:
            posts = [pool.submit(register, i) for i in range(45)]
            while not all(f.done() for f in posts):
                sent = time.monotonic()
                r = httpx.get(f"{base}/v1/models", headers=bob, timeout=60)
                latencies.append(time.monotonic() - sent)
                assert r.status_code == 200, r.text
                time.sleep(0.05)
            codes = [f.result() for f in posts]
        took = time.monotonic() - t
        latencies.sort()
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        print(
            f"\nregistration-load test: 45 concurrent POST /v1/models with no free worker in {took:.1f} s: "
            f"{ {c: codes.count(c) for c in sorted(set(codes))} }; other tenant's GET /v1/models x "
            f"{len(latencies)}: median {latencies[len(latencies) // 2] * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
        )
        assert all(c in (201, 202) for c in codes), codes
        # Unbounded waiters take every thread for the whole wait: reads then stall about 12 s. The
        # burst of 45 requests on two shared cores may cost a read a second or two, never the wait.
        assert latencies[-1] < 5.0 and p95 < 1.5, latencies[-5:]
        with session_factory(db_url)() as s:
            assert s.scalar(select(func.count()).select_from(Job)) == 45
    finally:
        stop(api)
        redis.Redis.from_url(broker).flushdb()
        drop_pg_database(db_url)
