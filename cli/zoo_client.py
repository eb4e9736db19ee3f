"""Register a trained zoo (``zoo.json`` + safetensors files) with a running service over HTTP."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx


def register_zoo(client: httpx.Client, zoo_dir: Path, *, prefix: str = "") -> list[dict[str, Any]]:
    """Upload every model of the zoo; returns the created models (in zoo order)."""
    manifest = json.loads((zoo_dir / "zoo.json").read_text())
    created = []
    for entry in manifest["models"]:
        kwargs = {**entry["kwargs"], "in_chans": entry["input_size"][0]}
        with open(zoo_dir / entry["weights_file"], "rb") as weights:
            r = client.post(
                "/v1/models:upload",
                files={"weights": (entry["weights_file"], weights, "application/octet-stream")},
                data={
                    "name": prefix + entry["name"],
                    "architecture": entry["arch"],
                    "num_classes": str(entry["num_classes"]),
                    "input_size": json.dumps(entry["input_size"]),
                    "model_kwargs": json.dumps(kwargs),
                    "class_names": json.dumps(entry["class_names"]),
                    "mean": json.dumps(entry["mean"]),
                    "std": json.dumps(entry["std"]),
                    "metrics": json.dumps(
                        {"source_accuracy": entry["accuracy"], "source_classes": entry["classes"]}
                    ),
                },
            )
        if r.status_code == 202:  # the registration job outlasted the API's wait: follow it
            created.append(_when_registered(client, r.json()))
            continue
        if r.status_code != 201:
            raise RuntimeError(f"registering {entry['name']} failed ({r.status_code}): {r.text}")
        created.append(r.json())
    return created


def _when_registered(client: httpx.Client, model: dict[str, Any], timeout_s: float = 600) -> dict[str, Any]:
    """The model once its registration job succeeded; RuntimeError with the job's reason otherwise."""
    deadline = time.monotonic() + timeout_s
    job: dict[str, Any] = model["job"]
    while job["status"] not in ("succeeded", "failed", "cancelled") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = client.get(f"/v1/jobs/{job['id']}").json()
    if job["status"] != "succeeded":
        raise RuntimeError(f"registering {model['name']} {job['status']}: {job.get('error_message')}")
    return dict(client.get(f"/v1/models/{model['id']}").json())
