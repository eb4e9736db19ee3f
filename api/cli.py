"""The ``reassembly`` command: run the service (embedded or distributed), train the zoo, run the demo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from core.settings import get_settings

app = typer.Typer(help="Reassembly: reassemble pretrained networks under a budget.", no_args_is_help=True)
zoo_app = typer.Typer(
    help="The project's own small model zoo, trained on an .npz dataset.", no_args_is_help=True
)
app.add_typer(zoo_app, name="zoo")
console = Console(stderr=True)


def worker_command(queues: str, concurrency: int, pool: str) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker",
        "--queues", queues, "--concurrency", str(concurrency), "--pool", pool,
        "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip


def _run_api(host: str, port: int) -> None:
    import uvicorn

    uvicorn.run("api.main:create_app", factory=True, host=host, port=port, log_level="info")


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    data_dir: Annotated[Path, typer.Option(help="Database, broker and artifacts live here.")] = Path("var"),
    concurrency: int = 2,
) -> None:
    """Embedded mode: SQLite + filesystem broker under DATA_DIR, one supervised worker, the API."""
    os.environ["REASSEMBLY_DATA_DIR"] = str(data_dir.resolve())
    for var in ("REASSEMBLY_DATABASE_URL", "REASSEMBLY_BROKER_URL", "REASSEMBLY_ARTIFACT_ROOT"):
        os.environ.pop(var, None)
    get_settings.cache_clear()
    settings = get_settings()
    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    from core.store.migrate import upgrade

    upgrade(settings.resolved_database_url)
    console.print(f"[bold]Reassembly embedded[/]: data in {settings.resolved_data_dir}, http://{host}:{port}")
    stop = threading.Event()
    holder: dict[str, subprocess.Popen[bytes]] = {}

    def supervise() -> None:
        while not stop.is_set():
            proc = subprocess.Popen(worker_command("cpu,gpu", concurrency, "threads"), start_new_session=True)
            holder["proc"] = proc
            while proc.poll() is None and not stop.is_set():
                time.sleep(0.5)
            if not stop.is_set():
                console.print(f"[yellow]worker exited with {proc.returncode}; restarting it[/]")
                time.sleep(1)

    supervisor = threading.Thread(target=supervise, daemon=True)
    supervisor.start()
    try:
        _run_api(host, port)
    finally:
        stop.set()
        proc = holder.get("proc")
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@app.command()
def api(host: str = "0.0.0.0", port: int = 8000) -> None:
    """Distributed mode: the HTTP API only (set REASSEMBLY_DATABASE_URL and REASSEMBLY_BROKER_URL)."""
    _run_api(host, port)


@app.command()
def worker(
    queues: str = "cpu,gpu",
    concurrency: int = 1,
    pool: Annotated[str, typer.Option(help="prefork | threads | solo")] = "prefork",
) -> None:
    """Distributed mode: a Celery worker serving QUEUES (cpu, gpu or both)."""
    os.execv(sys.executable, worker_command(queues, concurrency, pool))


@app.command()
def migrate() -> None:
    """Apply database migrations (alembic upgrade head)."""
    from core.store.migrate import upgrade

    upgrade(get_settings().resolved_database_url)
    console.print("database at head")


@app.command()
def openapi(out: Path = Path("openapi.json")) -> None:
    """Write the OpenAPI document (the input of the generated client)."""
    import json

    from api.main import create_app

    out.write_text(json.dumps(create_app(migrate=False).openapi(), indent=2) + "\n")
    console.print(f"wrote {out}")


if __name__ == "__main__":
    app()
