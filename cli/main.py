"""The ``reassembly`` command: run the service (embedded or distributed), train the zoo, run the demo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.keys import keys_app
from cli.resources import GROUPS
from core.settings import Settings, get_settings

app = typer.Typer(help="Reassembly: reassemble pretrained networks under a budget.", no_args_is_help=True)
zoo_app = typer.Typer(
    help="The project's own small model zoo, trained on an .npz dataset.", no_args_is_help=True
)
app.add_typer(zoo_app, name="zoo")
app.add_typer(keys_app, name="keys")
for group in GROUPS:  # the remote commands: models, datasets, partitions, … over the generated client
    app.add_typer(group)
console = Console(stderr=True)
WORKER_SHUTDOWN_GRACE_S = 15.0  # then SIGKILL: leased jobs are re-run elsewhere, never lost


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
    from core.broker import ensure_broker_folders
    from core.store.migrate import upgrade

    ensure_broker_folders(settings)
    upgrade(settings.resolved_database_url)
    console.print(f"[bold]Reassembly embedded[/]: data in {settings.resolved_data_dir}, http://{host}:{port}")
    _announce_local_key(settings)
    stop = threading.Event()
    holder: dict[str, subprocess.Popen[bytes]] = {}

    def supervise() -> None:
        while not stop.is_set():
            proc = subprocess.Popen(worker_command("cpu,gpu", concurrency, "prefork"), start_new_session=True)
            holder["proc"] = proc
            while proc.poll() is None and not stop.wait(0.5):
                pass
            if not stop.is_set():
                console.print(f"[yellow]worker exited with {proc.returncode}; restarting it[/]")
                stop.wait(1)

    supervisor = threading.Thread(target=supervise, daemon=True)
    supervisor.start()
    # uvicorn re-raises SIGTERM after its graceful shutdown; turn it into SystemExit so the worker
    # is stopped below instead of being orphaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        _run_api(host, port)
    finally:
        stop.set()
        proc = holder.get("proc")
        if proc is not None and proc.poll() is None:
            proc.terminate()  # the main worker stops its own pool; signalling the group kills it mid-task
            try:  # a warm shutdown finishes the running task; jobs are leased, so cutting it short is safe
                proc.wait(timeout=WORKER_SHUTDOWN_GRACE_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _announce_local_key(settings: Settings) -> None:
    """Create the local admin key on first start (the API then requires a key: docs/security.md)."""
    from cli.keys import ensure_local_key

    path, token = ensure_local_key(settings)
    if token is not None:
        console.print(f"local admin API key (shown once; kept in {path}, mode 0600):", soft_wrap=True)
        console.print(token, soft_wrap=True, highlight=False)
    else:
        console.print(f"API key: send 'Authorization: Bearer <the token in {path}>'", soft_wrap=True)


@app.command()
def api(host: str = "0.0.0.0", port: int = 8000) -> None:
    """Distributed mode: the HTTP API only (set REASSEMBLY_DATABASE_URL and REASSEMBLY_BROKER_URL)."""
    _run_api(host, port)


@app.command()
def worker(
    queues: str = "cpu,gpu",
    concurrency: int = 1,
    pool: Annotated[str, typer.Option(help="prefork or solo (threads break torch.fx tracing)")] = "prefork",
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
def gc(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be collected.")] = False,
    older_than: Annotated[
        float, typer.Option(min=0, help="Grace period in seconds: younger rows and blobs are kept.")
    ] = 3600.0,
) -> None:
    """Collect artifact rows nothing refers to and blobs no row names, older than OLDER_THAN seconds."""
    from rich.table import Table

    from core.store.artifacts import open_store
    from core.store.db import session_factory
    from core.store.gc import collect

    settings = get_settings()
    with session_factory(settings.resolved_database_url)() as session:
        report = collect(session, open_store(settings), older_than_s=older_than, dry_run=dry_run)
    table = Table(title=f"gc{' (dry run: nothing deleted)' if dry_run else ''}, older than {older_than:g} s")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("bytes", justify="right")
    table.add_row("artifact rows", str(report.rows), str(report.row_bytes))
    table.add_row("blobs", str(report.blobs), str(report.blob_bytes))
    table.add_row("  of which temporary files", str(report.temp_files), "")
    Console().print(table)


@app.command()
def openapi(out: Path = Path("openapi.json")) -> None:
    """Write the OpenAPI document (the input of the generated client)."""
    import json

    from api.main import create_app

    out.write_text(json.dumps(create_app(migrate=False).openapi(), indent=2) + "\n")
    console.print(f"wrote {out}")


@zoo_app.command("train")
def zoo_train(
    data: Annotated[Path, typer.Option(help="An .npz with uint8 'images' and 'labels'.")] = Path(
        "../shared/datasets/fashion_mnist.npz"
    ),
    out: Annotated[Path, typer.Option(help="Folder for zoo.json and the safetensors weights.")] = Path(
        "var/zoo"
    ),
    epochs: int = 2,
    max_train_images: int = 4000,
    seed: int = 0,
    register: Annotated[
        str | None, typer.Option(help="Base URL of a service to register the zoo with.")
    ] = None,
) -> None:
    """Train the project's heterogeneous zoo on CPU and optionally register it with a service."""
    from rich.progress import Progress

    from core.zoo.data import bundled_subset_path
    from core.zoo.train import train_zoo

    if not data.exists():
        console.print(f"[yellow]{data} not found; using the bundled subset {bundled_subset_path()}[/]")
        data = bundled_subset_path()
    with Progress(console=console) as bar:
        task = bar.add_task("training the zoo", total=1.0)
        entries = train_zoo(
            data,
            out,
            epochs=epochs,
            max_train_images=max_train_images,
            seed=seed,
            progress=lambda f, m="": bar.update(task, completed=f, description=m[:60] or "training"),
        )
    for e in entries:
        console.print(
            f"{e.name:28s} {e.arch:18s} {e.params:>9,} params  "
            f"accuracy {e.accuracy:.2%}  {e.train_seconds:.0f} s"
        )
    if register:
        import httpx

        from cli.zoo_client import register_zoo

        with httpx.Client(base_url=register, timeout=600) as client:
            for m in register_zoo(client, out):
                console.print(f"registered {m['name']} as {m['id']}")


@app.command()
def demo(data_dir: Path = Path("var/demo")) -> None:
    """Start the embedded service and run the pipeline end to end over HTTP, printing each step."""
    from cli.demo import run_demo

    run_demo(data_dir.resolve())


if __name__ == "__main__":
    app()
