"""Every job handler stays thin: at most 40 lines, and configs are read through typed requests."""

from __future__ import annotations

import inspect
from pathlib import Path

from worker.handlers import HANDLERS

WORKER = Path(__file__).resolve().parents[2] / "worker"


def test_every_handler_is_at_most_40_lines() -> None:
    lengths = {kind: len(inspect.getsourcelines(fn)[0]) for kind, fn in HANDLERS.items()}
    assert len(lengths) >= 8, lengths
    too_long = {kind: n for kind, n in lengths.items() if n > 40}
    assert not too_long, f"handlers over 40 lines (move the logic into core): {too_long}"


def test_no_untyped_config_reads_in_the_worker() -> None:
    lines = [
        (p.name, i, line)
        for p in WORKER.rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
    ]
    found = [f"{name}:{i}" for name, i, line in lines if "cfg[" in line]
    assert not found, f"untyped config reads (parse with the typed request instead): {found}"
