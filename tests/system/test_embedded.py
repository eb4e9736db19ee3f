"""Embedded mode: `reassembly serve` needs no PostgreSQL or Redis and runs a job to completion; it
binds 127.0.0.1, creates a local admin key on first start (printed once, kept in a 0600 file) and
then requires it."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import httpx
import pytest

from tests.system.processes import free_port, reassembly, service_env, start, stop, wait_ready

pytestmark = pytest.mark.system


def test_serve_runs_a_canary_with_sqlite_and_the_filesystem_broker(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data = tmp_path / "var"
    # Point the distributed URLs nowhere: serve must ignore them and use only DATA_DIR.
    env = service_env(REASSEMBLY_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none")
    log = tmp_path / "serve.log"
    proc = start(reassembly("serve", "--port", str(port), "--data-dir", str(data)), env, log)
    try:
        wait_ready(base, proc, log)
        key_file = data / "local-api-key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        token = key_file.read_text().strip()
        assert token.startswith("rsk_") and log.read_text().count(token) == 1  # printed once
        assert f"http://127.0.0.1:{port}" in log.read_text()  # the default bind address
        refused = httpx.post(f"{base}/v1/jobs:canary", json={"seconds": 0.5})
        assert refused.status_code == 401, refused.text  # the local key is required, not theatre
        assert httpx.get(f"{base}/metrics").status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        job = httpx.post(f"{base}/v1/jobs:canary", json={"seconds": 0.5}, headers=auth).json()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = httpx.get(f"{base}/v1/jobs/{job['id']}", headers=auth).json()
            if state["status"] in ("succeeded", "failed"):
                break
            time.sleep(0.2)
        assert state["status"] == "succeeded", (state, log.read_text()[-3000:])
        assert (data / "reassembly.sqlite3").exists()
        assert (data / "broker" / "queue").is_dir()
        workers = _processes_with_data_dir(data)
        assert workers, "serve started no worker"
    finally:
        stop(proc)
    assert proc.returncode is not None
    deadline = time.monotonic() + 15  # pool children finish their warm shutdown just after the parent
    while (alive := [p for p in workers if _running(p)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive, "the worker outlived serve"

    log2 = tmp_path / "serve2.log"
    proc = start(reassembly("serve", "--port", str(port), "--data-dir", str(data)), env, log2)
    try:  # a second start keeps the key and does not print it again
        wait_ready(base, proc, log2)
        assert (data / "local-api-key").read_text().strip() == token
        assert token not in log2.read_text() and "local-api-key" in log2.read_text()
        assert httpx.get(f"{base}/v1/jobs/{job['id']}", headers=auth).json()["status"] == "succeeded"
    finally:
        stop(proc)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has exited and only waits to be reaped


def _processes_with_data_dir(data: Path) -> list[int]:
    """PIDs of processes started with REASSEMBLY_DATA_DIR=data (serve's worker and its children)."""
    wanted = f"REASSEMBLY_DATA_DIR={data.resolve()}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if wanted in (proc / "environ").read_bytes().split(b"\0") and "celery" in (
                    proc / "cmdline"
                ).read_bytes().decode(errors="replace"):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found
