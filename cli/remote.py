"""``reassembly models|datasets|partitions|assemblies|components|compositions|jobs …``: the remote CLI.

A thin layer over the generated client (``clients/python``): every call goes through one of its
operation functions; this module only turns options into request bodies, prints results (a table,
or ``--json``) and follows jobs on their SSE stream with a progress bar. A failure exits non-zero
with the server's error message. ``--url``/``--token`` default to ``REASSEMBLY_URL`` /
``REASSEMBLY_TOKEN``.
"""

from __future__ import annotations

import importlib
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
err = Console(stderr=True)

Url = Annotated[str, typer.Option("--url", envvar="REASSEMBLY_URL", help="The service's base URL.")]
Token = Annotated[str | None, typer.Option("--token", envvar="REASSEMBLY_TOKEN", help="API token.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the JSON the server answered.")]
Wait = Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the job to its end.")]
TERMINAL = ("succeeded", "failed", "cancelled")


def generated() -> Any:
    try:
        return importlib.import_module("reassembly_client")
    except ImportError:
        err.print("[red]the generated client is not installed:[/] pip install -e clients/python")
        raise typer.Exit(2) from None


class Remote:
    """The generated client for one service, and what every command does with an answer."""

    def __init__(self, url: str, token: str | None) -> None:
        rc = generated()
        self.url = url
        self.client = (
            rc.AuthenticatedClient(base_url=url, token=token, timeout=httpx.Timeout(300.0))
            if token
            else rc.Client(base_url=url, timeout=httpx.Timeout(300.0))
        )

    def call(self, operation: str, **kwargs: Any) -> Any:
        """``api.<group>.<name>.sync_detailed`` of the generated client; exits with the server's
        error message when the answer is not a success."""
        group, name = operation.split(".")
        module = importlib.import_module(f"reassembly_client.api.{group}.{name}")
        try:
            response = module.sync_detailed(client=self.client, **kwargs)
        except httpx.HTTPError as exc:
            err.print(f"[red]cannot reach {self.url}:[/] {exc}; is the service running?")
            raise typer.Exit(3) from exc
        if response.status_code >= 400:
            fail(response.status_code, response.content)
        return response

    def data(self, operation: str, **kwargs: Any) -> Any:
        return json.loads(self.call(operation, **kwargs).content)

    def watch(self, job_id: str) -> dict[str, Any]:
        """Follow a job's progress events to its end; exit non-zero unless it succeeded."""
        http = self.client.get_httpx_client()
        last: dict[str, Any] = {}
        columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"))
        with Progress(*columns, TimeElapsedColumn(), console=err, transient=False) as bar:
            task = bar.add_task(job_id, total=1.0)
            with http.stream("GET", f"/v1/jobs/{job_id}/events", timeout=None) as stream:
                if stream.status_code >= 400:
                    fail(stream.status_code, stream.read())
                for line in stream.iter_lines():
                    if line.startswith("data: "):
                        last = json.loads(line[6:])
                        text = f"{last['status']}: {last.get('message') or last.get('stage') or ''}"
                        bar.update(task, completed=last.get("progress") or 0.0, description=text[:70])
        job = self.data("jobs.get_job", job_id=job_id)
        if job["status"] != "succeeded":
            err.print(f"[red]job {job_id} {job['status']}:[/] {job.get('error_message') or ''}")
            raise typer.Exit(1)
        return dict(job)


def fail(status: int, content: bytes) -> None:
    try:
        body = json.loads(content)
        message = body["error"]["message"] if "error" in body else json.dumps(body.get("detail", body))
    except (ValueError, KeyError, TypeError):
        message = content.decode(errors="replace")[:500]
    hint = {401: " (send a token: --token or REASSEMBLY_TOKEN)", 404: " (check the id)"}.get(status, "")
    err.print(f"[red]error {status}:[/] {message}{hint}")
    raise typer.Exit(1)


def show(data: Any, as_json: bool, columns: tuple[str, ...]) -> None:
    """One object or a page of them: JSON, or a table of ``columns``."""
    if as_json:
        console.print_json(json.dumps(data))
        return
    rows = data["items"] if isinstance(data, dict) and "items" in data else [data]
    table = Table(*columns)
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    Console().print(table)  # sized now: COLUMNS may have changed since import


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        return json.dumps(value)[:60]
    return "" if value is None else str(value)


def started(
    remote: Remote, answer: dict[str, Any], wait: bool, as_json: bool, read: Callable[[], Any]
) -> None:
    """After a POST that started a job: follow it when asked, then print the resource."""
    job = answer.get("job") or (answer if "kind" in answer else None)
    if wait and job is not None:
        remote.watch(job["id"])
    show(
        read(), as_json, ("id", "status", "kind", "error") if "kind" in answer else ("id", "status", "error")
    )


def sub(name: str, help_text: str) -> typer.Typer:
    """A command group whose ``--url``/``--token`` (before the command) make ``ctx.obj`` a Remote."""
    group = typer.Typer(name=name, help=help_text, no_args_is_help=True)

    @group.callback()
    def connect(ctx: typer.Context, url: Url = "http://127.0.0.1:8000", token: Token = None) -> None:
        ctx.obj = Remote(url, token)

    return group


def ints(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise typer.BadParameter(f"expected comma-separated integers, got {text!r}") from exc


def folder_zip(folder: Path) -> bytes:
    """An ImageFolder (one sub-folder per class) as a zip in memory, with a progress bar."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf, Progress(console=err) as bar:
        task = bar.add_task(f"zipping {folder}", total=len(files))
        for path in files:
            zf.write(path, path.relative_to(folder).as_posix())
            bar.advance(task)
    return buffer.getvalue()
