"""The re-send rule for queued jobs whose message nobody consumed (it may have died with the broker).

On real SQLite and PostgreSQL databases, and (for ``reap_once``) a real Redis broker: a queued job is
due again after ``requeue_after_seconds``, then after intervals that double with its age; of several
reapers that see it due only one sends it; a send the broker refuses leaves the job due.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from core.settings import get_settings
from core.store.db import engine_for, session_factory
from core.store.jobs import (
    claim_job,
    create_job,
    jobs_to_redispatch,
    now,
    requeue_interval,
    take_resend,
    undo_resend,
)
from core.store.migrate import upgrade
from core.store.models import Job
from tests.conftest import drop_pg_database, make_pg_database, redis_test_db
from tests.system.processes import free_port

T0 = datetime(2026, 1, 1, 12, 0, 0).astimezone()


def test_interval_doubles_with_age_and_is_capped() -> None:
    def at(seconds: float) -> datetime:
        return T0 + timedelta(seconds=seconds)

    assert requeue_interval(T0, at(0), 60, 3600) == 60  # first send: R
    assert requeue_interval(T0, at(60), 60, 3600) == 60  # re-sent at R: next at 2R
    assert requeue_interval(T0, at(120), 60, 3600) == 120  # at 2R: next at 4R
    assert requeue_interval(T0, at(480), 60, 3600) == 480
    assert requeue_interval(T0, at(100_000), 60, 3600) == 3600  # capped
    assert requeue_interval(T0, at(100_000), 60, 10) == 60  # a cap below R means R


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
        upgrade(url)
        yield session_factory(url)
        engine_for(url).dispose()
        return
    url = make_pg_database()
    try:
        upgrade(url)
        yield session_factory(url)
    finally:
        drop_pg_database(url)


def _queued_job(sessions: sessionmaker[Session], *, age: float, sent_ago: float | None) -> str:
    """A queued job created ``age`` s ago whose message the broker took ``sent_ago`` s ago (None: never)."""
    with sessions() as s:
        job, _ = create_job(s, kind="canary", queue="cpu", params={"seconds": 0}, owner="o")
        t = now()
        s.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(
                created_at=t - timedelta(seconds=age),
                dispatched_at=None if sent_ago is None else t - timedelta(seconds=sent_ago),
            )
        )
        s.commit()
        return job.id


def _due(sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions() as s:
        return {r.job_id: r.reason for r in jobs_to_redispatch(s, 30, 10, 3600)}


def test_queued_jobs_are_due_after_the_requeue_interval(sessions: sessionmaker[Session]) -> None:
    fresh = _queued_job(sessions, age=5, sent_ago=5)
    stale = _queued_job(sessions, age=15, sent_ago=15)
    never_sent = _queued_job(sessions, age=40, sent_ago=None)
    backoff_waiting = _queued_job(sessions, age=100, sent_ago=40)  # re-sent at age 60: next due at 120
    backoff_due = _queued_job(sessions, age=100, sent_ago=55)  # re-sent at age 45: due at 90
    running = _queued_job(sessions, age=15, sent_ago=15)
    with sessions() as s:
        assert claim_job(s, running, "w", lease_seconds=60, max_attempts=3) is not None
    due = _due(sessions)
    assert due == {stale: "unconsumed", never_sent: "undelivered", backoff_due: "unconsumed"}
    assert fresh not in due and backoff_waiting not in due and running not in due


def test_only_one_reaper_takes_a_resend_and_a_refused_send_is_undone(sessions: sessionmaker[Session]) -> None:
    job_id = _queued_job(sessions, age=15, sent_ago=15)
    with sessions() as s:
        first = jobs_to_redispatch(s, 30, 10, 3600)
    with sessions() as s:
        second = jobs_to_redispatch(s, 30, 10, 3600)  # another reaper saw the same due job
    assert [r.job_id for r in first] == [r.job_id for r in second] == [job_id]
    with sessions() as s:
        taken_at = take_resend(s, first[0])
    with sessions() as s:
        assert take_resend(s, second[0]) is None
    assert taken_at is not None
    assert _due(sessions) == {}  # just sent: not due again for a while
    with sessions() as s:
        undo_resend(s, first[0], taken_at)  # the broker refused it
    assert _due(sessions) == {job_id: "unconsumed"}


def test_a_job_claimed_meanwhile_is_not_resent(sessions: sessionmaker[Session]) -> None:
    job_id = _queued_job(sessions, age=15, sent_ago=15)
    with sessions() as s:
        (resend,) = jobs_to_redispatch(s, 30, 10, 3600)
        assert claim_job(s, job_id, "w", lease_seconds=60, max_attempts=3) is not None
    with sessions() as s:
        assert take_resend(s, resend) is None


# ------------------------------------------------------------------------------------------------
# reap_once against a real PostgreSQL and a real Redis (database 4 after REASSEMBLY_TEST_REDIS_URL's).


@pytest.fixture()
def reaper_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[str, str]]:
    import redis

    db_url = make_pg_database()
    broker = redis_test_db(4)  # its own: the live API fixture's worker consumes database 1
    redis.Redis.from_url(broker).flushdb()
    upgrade(db_url)
    monkeypatch.setenv("REASSEMBLY_DATABASE_URL", db_url)
    monkeypatch.setenv("REASSEMBLY_BROKER_URL", broker)
    monkeypatch.setenv("REASSEMBLY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REASSEMBLY_REQUEUE_AFTER_SECONDS", "10")
    get_settings.cache_clear()
    try:
        yield db_url, broker
    finally:
        get_settings.cache_clear()
        redis.Redis.from_url(broker).flushdb()
        drop_pg_database(db_url)


def test_reap_once_resends_an_unconsumed_job_once(reaper_env: tuple[str, str]) -> None:
    import redis

    from worker.tasks import reap_once

    db_url, broker = reaper_env
    sessions = session_factory(db_url)
    job_id = _queued_job(sessions, age=15, sent_ago=15)
    fresh = _queued_job(sessions, age=1, sent_ago=1)
    queue = redis.Redis.from_url(broker)
    assert queue.llen("cpu") == 0
    assert reap_once() == 1
    assert queue.llen("cpu") == 1 and job_id.encode() in queue.lindex("cpu", 0)  # type: ignore[operator]
    assert reap_once() == 0  # not due again until the interval has passed once more
    assert queue.llen("cpu") == 1
    with sessions() as s:
        sent = s.get(Job, job_id)
        assert sent is not None and sent.dispatched_at is not None
        assert (now() - sent.dispatched_at).total_seconds() < 5
        assert fresh not in {r.job_id for r in jobs_to_redispatch(s, 30, 10, 3600)}


def test_reap_once_with_the_broker_down_leaves_the_job_due(
    reaper_env: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from worker.tasks import reap_once

    db_url, _ = reaper_env
    monkeypatch.setenv("REASSEMBLY_BROKER_URL", f"redis://127.0.0.1:{free_port()}/0")  # nothing listens
    get_settings.cache_clear()
    sessions = session_factory(db_url)
    first = _queued_job(sessions, age=15, sent_ago=15)
    second = _queued_job(sessions, age=15, sent_ago=14)
    with sessions() as s:
        before = {j: s.get(Job, j).dispatched_at for j in (first, second)}  # type: ignore[union-attr]
    assert reap_once() == 0
    with sessions() as s:
        after = {j: s.get(Job, j).dispatched_at for j in (first, second)}  # type: ignore[union-attr]
        assert after == before
        assert {r.job_id for r in jobs_to_redispatch(s, 30, 10, 3600)} == {first, second}
