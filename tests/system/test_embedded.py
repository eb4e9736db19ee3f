"""Embedded mode: `reassembly serve` needs no PostgreSQL or Redis and runs a job to completion."""

from __future__ import annotations

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
        job = httpx.post(f"{base}/v1/jobs:canary", json={"seconds": 0.5}).json()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = httpx.get(f"{base}/v1/jobs/{job['id']}").json()
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
