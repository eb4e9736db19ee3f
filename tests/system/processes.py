"""Start the real service processes (API via uvicorn, Celery workers) for system tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REASSEMBLY_")}
    env.update(overrides)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a process in its own session, so a test can kill it with everything it forked."""
    out = open(log, "wb")  # noqa: SIM115 - closed when the process is reaped
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def reassembly(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def wait_ready(base_url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server at {base_url} was not ready in {timeout} s:\n{log.read_text()[-3000:]}")


def start_api(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``reassembly api`` on a free loopback port, ready; returns the process and its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start(reassembly("api", "--host", "127.0.0.1", "--port", str(port)), env, log)
    try:
        wait_ready(base, proc, log)
    except AssertionError:
        stop(proc)
        raise
    return proc, base


def start_workers(
    env: dict[str, str], logs: Path, count: int, concurrency: int = 1
) -> list[subprocess.Popen[bytes]]:
    """``count`` Celery workers serving both queues, logging to ``logs/w<i>.log``."""
    cmd = reassembly("worker", "--queues", "cpu,gpu", "--concurrency", str(concurrency))
    return [start(cmd, env, logs / f"w{i}.log") for i in range(count)]


def submit_canaries(base: str, count: int, seconds: float = 1.0) -> list[str]:
    """``count`` canary jobs (each with its own Idempotency-Key); their ids."""
    ids = []
    for i in range(count):
        r = httpx.post(
            f"{base}/v1/jobs:canary", json={"seconds": seconds}, headers={"Idempotency-Key": f"c{i}"}
        )
        assert r.status_code == 202, r.text
        ids.append(str(r.json()["id"]))
    return ids


def start_redis(port: int, log: Path) -> subprocess.Popen[bytes]:
    """A private redis-server on loopback without persistence (a restart loses every message)."""
    import shutil

    import redis

    server = shutil.which("redis-server")
    if server is None:
        raise AssertionError(
            "redis-server is not installed: `make services` (scripts/services.sh) installs it"
        )
    cmd = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = start(cmd, service_env(), log)
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if client.ping():
                client.close()
                return proc
        except redis.ConnectionError:
            time.sleep(0.05)
    stop(proc)
    raise AssertionError(f"redis-server on port {port} did not start:\n{log.read_text()[-2000:]}")
