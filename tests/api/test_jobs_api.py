"""The jobs API against real PostgreSQL and Redis; jobs are run by the real job runner in-process."""

from __future__ import annotations

import json
import threading
import uuid

import redis
from fastapi.testclient import TestClient

from core.settings import Settings
from worker.handlers import HANDLERS
from worker.runner import run_job


def _canary(client: TestClient, seconds: float = 0.1, key: str | None = None) -> dict:
    headers = {"Idempotency-Key": key} if key else {}
    r = client.post("/v1/jobs:canary", json={"seconds": seconds}, headers=headers)
    assert r.status_code in (200, 202), r.text
    return r.json()


def test_canary_is_queued_and_sent_to_the_cpu_queue(client: TestClient, service_settings: Settings) -> None:
    r_before = redis.Redis.from_url(service_settings.resolved_broker_url).llen("cpu")
    job = _canary(client)
    assert job["status"] == "queued" and job["kind"] == "canary" and job["queue"] == "cpu"
    assert redis.Redis.from_url(service_settings.resolved_broker_url).llen("cpu") == r_before + 1
    assert client.get(f"/v1/jobs/{job['id']}").json()["id"] == job["id"]


def test_job_runs_to_success_with_progress(client: TestClient, service_settings: Settings) -> None:
    job = _canary(client, seconds=0.3)
    assert run_job(job["id"], service_settings, HANDLERS) == "succeeded"
    done = client.get(f"/v1/jobs/{job['id']}").json()
    assert done["status"] == "succeeded" and done["progress"] == 1.0 and done["attempts"] == 1
    assert done["result"]["slept_seconds"] >= 0.3
    # A second delivery of the same message does not run it again.
    assert run_job(job["id"], service_settings, HANDLERS) == "not-claimed"


def test_same_idempotency_key_returns_the_same_job(client: TestClient) -> None:
    key = uuid.uuid4().hex
    first = client.post("/v1/jobs:canary", json={"seconds": 0.2}, headers={"Idempotency-Key": key})
    again = client.post("/v1/jobs:canary", json={"seconds": 0.2}, headers={"Idempotency-Key": key})
    assert first.status_code == 202 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    other = client.post("/v1/jobs:canary", json={"seconds": 0.5}, headers={"Idempotency-Key": key})
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "conflict"
    assert first.json()["id"] in other.json()["error"]["message"]


def test_cancel_queued_job_then_conflict(client: TestClient) -> None:
    job = _canary(client)
    r = client.post(f"/v1/jobs/{job['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    again = client.post(f"/v1/jobs/{job['id']}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["error"]["message"]


def test_cancel_running_job_stops_at_next_progress_point(
    client: TestClient, service_settings: Settings
) -> None:
    job = _canary(client, seconds=30)
    outcome: list[str] = []
    runner = threading.Thread(target=lambda: outcome.append(run_job(job["id"], service_settings, HANDLERS)))
    runner.start()
    _wait_status(client, job["id"], "running")
    assert client.post(f"/v1/jobs/{job['id']}/cancel").json()["cancel_requested"] is True
    runner.join(timeout=10)
    assert outcome == ["cancelled"]
    final = client.get(f"/v1/jobs/{job['id']}").json()
    assert final["status"] == "cancelled" and final["progress"] < 0.5


def test_sse_streams_progress_until_the_end(client: TestClient, service_settings: Settings) -> None:
    job = _canary(client, seconds=1.0)
    runner = threading.Thread(target=run_job, args=(job["id"], service_settings, HANDLERS))
    runner.start()
    events: list[tuple[str, dict]] = []
    with client.stream("GET", f"/v1/jobs/{job['id']}/events") as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        name = ""
        for line in resp.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    runner.join()
    progress = [e["progress"] for n, e in events if n == "progress"]
    assert events[-1][0] == "end" and events[-1][1]["status"] == "succeeded"
    assert any(0 < p < 1 for p in progress), progress
    assert progress == sorted(progress)


def test_list_jobs_paginates_with_a_cursor(client: TestClient) -> None:
    made = {_canary(client)["id"] for _ in range(5)}
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, "kind": "canary"} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/jobs", params=params).json()
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert made <= set(seen) and len(seen) == len(set(seen))
    assert seen == sorted(seen, reverse=True)


def test_errors_use_the_json_envelope(client: TestClient, service_settings: Settings) -> None:
    missing = client.get("/v1/jobs/job_nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    bad = client.post("/v1/jobs:canary", json={"seconds": -1})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["problems"][0]["field"] == "body.seconds"
    too_long = client.post("/v1/jobs:canary", json={"seconds": service_settings.max_canary_seconds + 1})
    assert too_long.status_code == 422 and "limit" in too_long.json()["error"]["message"]


def test_health_readiness_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    assert client.get("/v1/jobs/job_secret_looking_id").status_code == 404
    assert client.get("/no/such/path/x9z").status_code == 404
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'reassembly_jobs{status="succeeded"}' in text
    assert 'reassembly_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    # Labels are bounded: ids and unknown paths never become label values.
    assert 'route="/v1/jobs/{job_id}",status="404"' in text and 'route="unmatched",status="404"' in text
    assert "job_secret_looking_id" not in text and "x9z" not in text
    assert "reassembly_http_request_seconds_bucket" in text


def test_readiness_fails_when_the_broker_is_down(service_settings: Settings) -> None:
    from api.main import create_app

    broken = service_settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    with TestClient(create_app(broken, migrate=False)) as c:
        r = c.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["database"] == "ok" and r.json()["checks"]["broker"].startswith("unreachable")


def _wait_status(client: TestClient, job_id: str, status: str, timeout: float = 10) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get(f"/v1/jobs/{job_id}").json()["status"] == status:
            return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {status}")
