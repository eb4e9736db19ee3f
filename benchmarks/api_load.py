"""Read latency of the API under an open-loop load (issue 11, done-when 6).

Starts the service as users run it — embedded (``reassembly serve``: SQLite, filesystem broker, one
worker) and distributed (``reassembly api`` + ``reassembly worker`` on PostgreSQL and Redis) —
registers ``--models`` timm models through the API (real registration jobs), uploads a dataset and
runs a canary, then sends GET requests at a fixed rate: request i is due at t0 + i/rate whether or
not earlier ones have answered (open loop, so a slow server cannot slow the load down and hide its
queueing). Latency is counted from the time a request was due, not from when it was sent. GETs
rotate over every read endpoint; the SSE stream (``/v1/jobs/{id}/events``) is left out because it
stays open by design. The load generator runs on the same machine as the service.

    .venv/bin/python benchmarks/api_load.py [--mode embedded|postgres|both] [--rate 100]
        [--seconds 20] [--models 50]

Prints per endpoint n, p50/p95/p99/max in ms and errors, then whether every p99 is within 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.system.processes import free_port, reassembly, service_env, start, stop, wait_ready  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/15"
GOAL_P99_MS = 50.0


Service = tuple[str, dict[str, str]]  # base URL, headers (the embedded mode's local key)


@contextlib.contextmanager
def embedded(tmp: Path) -> Iterator[Service]:
    port = free_port()
    cmd = reassembly("serve", "--port", str(port), "--data-dir", str(tmp / "data"))
    proc = start(cmd, service_env(OMP_NUM_THREADS="1"), tmp / "serve.log")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, proc, tmp / "serve.log", timeout=120)
        key = (tmp / "data" / "local-api-key").read_text().strip()
        yield base, {"Authorization": f"Bearer {key}"}
    finally:
        stop(proc)


@contextlib.contextmanager
def postgres(tmp: Path) -> Iterator[Service]:
    import redis
    from sqlalchemy import create_engine, text

    from core.store.migrate import upgrade

    name = f"reassembly_load_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    redis.Redis.from_url(REDIS).flushdb()
    env = service_env(
        REASSEMBLY_DATABASE_URL=url,
        REASSEMBLY_BROKER_URL=REDIS,
        REASSEMBLY_DATA_DIR=str(tmp / "data"),
        OMP_NUM_THREADS="1",
    )
    port = free_port()
    api = start(reassembly("api", "--host", "127.0.0.1", "--port", str(port)), env, tmp / "api.log")
    worker = start(reassembly("worker", "--concurrency", "2"), env, tmp / "worker.log")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, api, tmp / "api.log")
        yield base, {}  # no keys or tokens configured: open
    finally:
        stop(worker)
        stop(api)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def populate(base: str, headers: dict[str, str], models: int) -> list[str]:
    """Register the models, upload a dataset, run a canary; the GET paths to load."""
    from core.zoo.data import bundled_subset_path

    c = httpx.Client(base_url=base, headers=headers, timeout=300)
    ids = []
    t = time.perf_counter()
    for i in range(models):
        body = {"name": f"load-{i}", "source": {"timm": "test_resnet"}, "num_classes": 10, "seed": i}
        r = c.post("/v1/models", json={**body, "input_size": [3, 32, 32]})
        if r.status_code not in (201, 202):
            raise SystemExit(f"registering model {i} failed: {r.status_code} {r.text}")
        ids.append(r.json()["id"])
    print(f"  registered {models} models in {time.perf_counter() - t:.1f} s")
    with open(bundled_subset_path(), "rb") as f:
        ds = c.post("/v1/datasets", files={"file": ("d.npz", f)}, data={"name": "load"}).json()
    job = c.post("/v1/jobs:canary", json={"seconds": 0.1}).json()
    model = c.get(f"/v1/models/{ids[0]}").json()
    while c.get(f"/v1/jobs/{job['id']}").json()["status"] not in ("succeeded", "failed"):
        time.sleep(0.1)
    c.close()
    paths = ["/healthz", "/readyz", "/metrics", "/v1/models", "/v1/datasets", "/v1/jobs"]
    paths += [f"/v1/models/{ids[len(ids) // 2]}", f"/v1/datasets/{ds['id']}", f"/v1/jobs/{job['id']}"]
    paths += [f"/v1/models/{ids[-1]}/weights", f"/v1/artifacts/{model['weights_artifact_id']}"]
    return paths


def label(path: str) -> str:
    parts = path.split("/")
    return "/".join("{id}" if "_" in p and p not in ("", "v1") else p for p in parts)


async def load(
    base: str, headers: dict[str, str], paths: list[str], rate: float, seconds: float
) -> dict[str, list[float]]:
    """Send ``rate`` GETs a second for ``seconds``; latency (ms) from each request's due time."""
    results: dict[str, list[float]] = {label(p): [] for p in paths}
    errors: dict[str, int] = {label(p): 0 for p in paths}
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30, limits=limits) as client:

        async def one(path: str, due: float) -> None:
            try:
                r = await client.get(path)
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                results[label(path)].append((time.perf_counter() - due) * 1000)
            else:
                errors[label(path)] += 1

        tasks = []
        t0 = time.perf_counter() + 0.2
        for i in range(int(rate * seconds)):
            due = t0 + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(paths[i % len(paths)], due)))
        await asyncio.gather(*tasks)
    return {**results, **{f"{k} errors": [float(v)] for k, v in errors.items() if v}}


def report(mode: str, results: dict[str, list[float]]) -> bool:
    print(f"\n{mode}: GET latency in ms from the due time (open loop)")
    print(f"  {'endpoint':40} {'n':>5} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}")
    ok = True
    for name, xs in results.items():
        if name.endswith(" errors"):
            print(f"  {name:40} {int(xs[0]):>5}")
            ok = False
            continue
        q = statistics.quantiles(xs, n=100, method="inclusive")
        p50, p95, p99 = q[49], q[94], q[98]
        ok &= p99 <= GOAL_P99_MS
        print(f"  {name:40} {len(xs):>5} {p50:7.1f} {p95:7.1f} {p99:7.1f} {max(xs):7.1f}")
    print(f"  every GET p99 <= {GOAL_P99_MS:g} ms: {'yes' if ok else 'NO'}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("embedded", "postgres", "both"), default="both")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--models", type=int, default=50)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; {args.rate:g} GET/s for {args.seconds:g} s with {args.models} models")
    verdicts = []
    for mode in ("embedded", "postgres") if args.mode == "both" else (args.mode,):
        with (
            tempfile.TemporaryDirectory() as tmp,
            (embedded if mode == "embedded" else postgres)(Path(tmp)) as (base, headers),
        ):
            paths = populate(base, headers, args.models)
            asyncio.run(load(base, headers, paths, args.rate, 2.0))  # warm-up, not counted
            results = asyncio.run(load(base, headers, paths, args.rate, args.seconds))
            verdicts.append(report(mode, results))
    sys.exit(0 if all(verdicts) else 1)


if __name__ == "__main__":
    main()
