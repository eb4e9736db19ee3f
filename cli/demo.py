"""`reassembly demo`: start the embedded service and run the pipeline end to end over HTTP.

Everything the demo needs ships with the project: the 3,000-image Fashion-MNIST subset in data/
trains a small heterogeneous zoo (cached under var/demo-zoo), which is then registered, dissected
and partitioned through the REST API of a real embedded service with its own worker, and
reassembled for a task none of the zoo models was trained on (the images rotated and inverted),
beside the best zoo model that fits the same budget. A last section cuts two class subsets out of
one zoo model (Model LEGO components, no training) and assembles them into one classifier.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from cli.keys import LOCAL_KEY_FILE, read_local_key
from cli.zoo_client import register_zoo
from core.transfer_task import TRANSFER_TASK, rotated_inverted

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT / "data" / "fashion_subset.npz"
console = Console(width=shutil.get_terminal_size((120, 24)).columns)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_job(client: httpx.Client, job_id: str, label: str, timeout: float = 1800) -> dict[str, Any]:
    """Follow a job's server-sent events, printing progress, until it ends."""
    last = -1.0
    deadline = time.monotonic() + timeout
    with client.stream("GET", f"/v1/jobs/{job_id}/events", timeout=timeout) as events:
        for line in events.iter_lines():
            if not line.startswith("data: "):
                continue
            state = json.loads(line[6:])
            if state["progress"] - last >= 0.2 or state["status"] != "running":
                console.print(
                    f"  [dim]{label}: {state['status']} {state['progress']:.0%} {state['message']}[/]"
                )
                last = state["progress"]
            if state["status"] in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
                break
    job = client.get(f"/v1/jobs/{job_id}").json()
    if job["status"] != "succeeded":
        raise SystemExit(f"{label} ended {job['status']}: {job['error_code']}: {job['error_message']}")
    return dict(job)


def _train_zoo(zoo_dir: Path) -> None:
    from core.zoo.train import train_zoo

    if (zoo_dir / "zoo.json").exists():
        console.print(f"  reusing the zoo trained earlier in {zoo_dir} (delete it to retrain)")
        return
    shutil.rmtree(zoo_dir, ignore_errors=True)
    started = time.monotonic()
    last = [-1.0]

    def report(fraction: float, message: str = "") -> None:
        if fraction - last[0] >= 0.1:
            console.print(f"  [dim]training {fraction:.0%} {message}[/]")
            last[0] = fraction

    train_zoo(
        SUBSET,
        zoo_dir,
        epochs=3,
        max_train_images=2000,
        max_eval_images=450,
        seed=0,
        threads=1,
        progress=report,
    )
    console.print(f"  trained in {time.monotonic() - started:.0f} s")


def run_demo(data_dir: Path) -> None:
    shutil.rmtree(data_dir, ignore_errors=True)
    zoo_dir = data_dir.parent / "demo-zoo"
    port = _free_port()
    log = data_dir.parent / "demo-serve.log"
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    with open(log, "wb") as out:
        server = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            _wait_ready(client, server, log)
            # serve created its local admin key before it answered; the API requires it from then on
            client.headers["Authorization"] = f"Bearer {read_local_key(data_dir)}"
            console.rule("[bold]1. The embedded service and a job round trip")
            console.print(f"service at {base} (SQLite, filesystem broker, one worker; log in {log})")
            console.print(f"  requests send the local API key from {data_dir / LOCAL_KEY_FILE} (mode 0600)")
            job = client.post("/v1/jobs:canary", json={"seconds": 1}).json()
            _wait_job(client, job["id"], "canary")

            console.rule("[bold]2. A small zoo trained on Fashion-MNIST")
            _train_zoo(zoo_dir)
            dataset = _upload_dataset(client)

            console.rule("[bold]3. Register the zoo (safetensors uploads) and dissect every model")
            models = register_zoo(client, zoo_dir)
            table = Table("model", "architecture", "params", "MFLOPs", "source acc", "nodes", "max |Δ|")
            for m in models:
                _wait_job(
                    client, client.post(f"/v1/models/{m['id']}/dissect").json()["id"], f"dissect {m['name']}"
                )
                nodes = client.get(f"/v1/models/{m['id']}/nodes").json()
                table.add_row(
                    m["name"],
                    m["architecture"],
                    f"{m['params']:,}",
                    f"{m['flops'] / 1e6:.1f}",
                    f"{m['metrics']['source_accuracy']:.1%}",
                    str(len(nodes["nodes"])),
                    f"{nodes['max_abs_error']:.1e}",
                )
            console.print(table)

            console.rule("[bold]4. Equivalence sets (DeRy cover-set partition, exact re-cut)")
            part = client.post(
                "/v1/partitions",
                json={
                    "model_ids": [m["id"] for m in models],
                    "probe_dataset_id": dataset["id"],
                    "k": 3,
                    "epsilon": 0.5,
                    "restarts": 50,
                    "probe_images": 512,
                    "batch_size": 64,
                },
            ).json()
            _wait_job(client, part["job"]["id"], "partition")
            part = client.get(f"/v1/partitions/{part['id']}").json()
            _print_partition(part)
            for picture in ("similarity.png", "partition.png"):
                target = data_dir / picture
                target.write_bytes(client.get(f"/v1/partitions/{part['id']}/{picture}").content)
                console.print(f"  wrote {target}")

            console.rule("[bold]5. Reassemble for a new task under a budget, beside the best zoo model")
            task = _upload_transfer_target(client)
            budget = {"max_params": 1_000_000}
            impossible = client.post(
                "/v1/assemblies",
                json={
                    "partition_id": part["id"],
                    "target_dataset_id": task["id"],
                    "constraints": {"max_params": 1000},
                },
            ).json()
            console.print(f"  asking for max_params=1000 → {impossible['error']['message']}")
            asm = client.post(
                "/v1/assemblies",
                json={
                    "partition_id": part["id"],
                    "target_dataset_id": task["id"],
                    "constraints": budget,
                    "fit_images": 1500,
                    "heldout_images": 600,
                    "training": {"mode": "frozen"},
                },
            ).json()
            _wait_job(client, asm["job"]["id"], "assembly")
            asm = client.get(f"/v1/assemblies/{asm['id']}").json()
            _print_assembly(asm, budget)
            archive = data_dir / "assembly.zip"
            archive.write_bytes(client.get(f"/v1/assemblies/{asm['id']}/checkpoint").content)
            console.print(
                f"  downloaded the chosen network to {archive} "
                "(model.safetensors + manifest.json + model card)"
            )

            console.rule("[bold]6. Model LEGO: a component of two classes, a composition of two components")
            _model_lego(client, models, dataset, data_dir)
            console.rule("[bold green]demo finished")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def _model_lego(
    client: httpx.Client, models: list[dict[str, Any]], dataset: dict[str, Any], out: Path
) -> None:
    """Cut two class subsets out of one zoo model (no training) and assemble them into one classifier."""
    from core.zoo.data import FASHION_CLASSES

    model = next(m for m in models if m["architecture"] == "vgg_cifar")
    names = dataset.get("class_names") or FASHION_CLASSES
    parts = []
    for classes in ([0, 1], [7, 9]):
        body = {"model_id": model["id"], "dataset_id": dataset["id"], "classes": classes}
        created = client.post("/v1/components", json=body).json()
        _wait_job(client, created["job"]["id"], f"component {classes}")
        parts.append(client.get(f"/v1/components/{created['id']}").json())
    table = Table("component of " + model["name"], "params", "MFLOPs", "base acc", "component acc")
    for part in parts:
        r = part["result"]
        table.add_row(
            ", ".join(names[c] for c in r["class_labels"]),
            f"{r['params_before']:,} → {r['params_after']:,}",
            f"{r['flops_before'] / 1e6:.1f} → {r['flops_after'] / 1e6:.1f}",
            f"{r['accuracy_base']:.1%}",
            f"{r['accuracy_component']:.1%}",
        )
    console.print(table)
    body = {"component_ids": [p["id"] for p in parts], "scaling_dataset_id": dataset["id"]}
    created = client.post("/v1/compositions", json=body).json()
    _wait_job(client, created["job"]["id"], "composition")
    comp = client.get(f"/v1/compositions/{created['id']}").json()
    r = comp["result"]
    console.print(
        f"  composition of {len(parts)} components → {len(r['class_labels'])} classes: params "
        f"{r['params_before']:,} (side by side) → {r['params_after']:,}; Score1 {r['score1']:.1%} with "
        f"parameter scaling, {r['score1_unscaled']:.1%} without ({r['eval_images']} held-out images)"
    )
    archive = out / "composition.zip"
    archive.write_bytes(client.get(f"/v1/compositions/{comp['id']}/checkpoint").content)
    console.print(f"  downloaded the composition to {archive} (model.safetensors + spec.json + manifest)")


def _wait_ready(client: httpx.Client, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the service exited ({server.returncode}); see {log}")
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the service did not become ready; see {log}")


def _upload_dataset(client: httpx.Client) -> dict[str, Any]:
    with open(SUBSET, "rb") as f:
        r = client.post(
            "/v1/datasets", files={"file": ("fashion_subset.npz", f)}, data={"name": "fashion-subset"}
        )
    r.raise_for_status()
    ds = r.json()
    console.print(
        f"  dataset {ds['name']}: {ds['num_images']} images {ds['image_shape']}, {ds['num_classes']} classes"
    )
    return dict(ds)


def _upload_transfer_target(client: httpx.Client) -> dict[str, Any]:
    """The bundled images rotated and inverted: a task none of the zoo models was trained on."""
    with np.load(SUBSET, allow_pickle=False) as data:
        images, labels = data["images"], data["labels"]
    buffer = io.BytesIO()
    np.savez(buffer, images=rotated_inverted(images), labels=labels)
    r = client.post(
        "/v1/datasets",
        files={"file": ("fashion_rotated_inverted.npz", buffer.getvalue())},
        data={"name": "fashion-rotated-inverted"},
    )
    r.raise_for_status()
    console.print(f"  target task: {TRANSFER_TASK}, {r.json()['num_images']} images")
    return dict(r.json())


def _short(blocks: list[dict[str, Any]]) -> str:
    return "→".join(f"{b['model_name'].split('_')[0]}[{b['first_node']}-{b['last_node']}]" for b in blocks)


def _print_assembly(asm: dict[str, Any], budget: dict[str, int]) -> None:
    cfg = asm["config"]
    console.print(
        f"  budget {budget}: {len(asm['pool'])} distinct chains of ≥ 2 donors scored by {cfg['proxy']}; "
        f"the best {len(asm['candidates'])} trained ({cfg['training']['mode']}), chosen on validation"
    )
    table = Table("", "network", "params", "MFLOPs", "closed-form val", "trained val", "held-out")
    rows = [(f"finalist {c['rank']}", _short(c["blocks"]), c) for c in asm["candidates"]]
    rows += [("zoo model", z["model_name"], z) for z in asm["zoo_models"]]
    for label, name, c in rows:
        if c == asm["chosen"]:
            label = "[bold]chosen[/bold]"
        table.add_row(
            label, name, f"{c['built_params']:,}", f"{c['built_flops'] / 1e6:.1f}",
            f"{c['closed_form_validation_accuracy']:.1%}", f"{c['validation_accuracy']:.1%}",
            f"{c['heldout_accuracy']:.1%}",
        )  # fmt: skip
    console.print(table)
    base = asm["baseline"]
    if base is None:
        console.print(f"  {asm['baseline_note']}")
    else:
        console.print(
            f"  baseline: {base['model_name']} (best zoo model within the budget, on validation), "
            f"held-out {base['heldout_accuracy']:.1%}; reassembly {asm['chosen']['heldout_accuracy']:.1%}: "
            f"gain {asm['gain']:+.1f} points"
        )
    console.print(f"  [bold]recommendation: {asm['recommendation']}[/bold] (decided on the validation split)")


def _print_partition(part: dict[str, Any]) -> None:
    console.print(f"objective J = {part['objective']:.3f} over {part['restarts_used']} restarts")
    table = Table("set", "anchor", *(b["model_name"] for b in part["sets"][0]["blocks"]))
    for s in part["sets"]:
        a = s["anchor"]
        table.add_row(
            str(s["index"]),
            f"{a['model_name']} {a['first_path']}..{a['last_path']}",
            *(f"{b['first_node']}-{b['last_node']} ({b['similarity_to_anchor']:.2f})" for b in s["blocks"]),
        )
    console.print(table)
