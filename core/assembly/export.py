"""The chosen network of a search as a downloadable archive, with its baseline in the model card."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.assembly.evaluate import Donor
from core.assembly.pipeline import Outcome
from core.stitch import export_archive


def outcome_metrics(outcome: Outcome, donors: Mapping[str, Donor]) -> dict[str, Any]:
    """Post-training metrics of the choice beside its baseline and the recommendation."""
    chosen, baseline = outcome.network, outcome.baseline
    return {
        "validation_accuracy": chosen.final_validation_accuracy(),
        "heldout_accuracy": chosen.heldout_accuracy,
        "proxy": outcome.proxy,
        "proxy_scores": chosen.scores(),
        "recommendation": outcome.recommendation,
        "gain_points": outcome.gain,
        "baseline": (
            {"model": donors[baseline.chain[0].model].name, "params": baseline.params,
             "heldout_accuracy": baseline.heldout_accuracy}
            if baseline else outcome.baseline_note
        ),
    }  # fmt: skip


def archive_bytes(
    outcome: Outcome, donors: Mapping[str, Donor], class_names: Sequence[str], name: str
) -> bytes:
    """The zip of ``core.stitch.export_archive`` for the chosen network."""
    chosen = outcome.network
    entry = donors[chosen.chain[0].model].info
    info = {
        "name": name,
        "description": "Reassembled from blocks of: " + ", ".join(donors[k].name for k in chosen.donors),
        "class_names": list(class_names),
        "metrics": outcome_metrics(outcome, donors),
        "base_models": [donors[b.model].info.timm_name for b in chosen.chain],
        "input_config": {
            "input_size": list(entry.input_size),
            "mean": list(entry.mean),
            "std": list(entry.std),
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        return export_archive(chosen.net, info, Path(tmp) / "assembly.zip").read_bytes()
