"""Register a trained zoo (``zoo.json`` + safetensors files) with a running service over HTTP."""

from __future__ import annotations

import json
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
        if r.status_code != 201:
            raise RuntimeError(f"registering {entry['name']} failed ({r.status_code}): {r.text}")
        created.append(r.json())
    return created
