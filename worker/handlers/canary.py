"""The canary job: sleeps with progress so operators and tests can prove the workers are alive."""

from __future__ import annotations

import time
from typing import Any

from worker.runner import JobContext


def run_canary(ctx: JobContext) -> dict[str, Any]:
    seconds = float(ctx.params.get("seconds", 1.0))
    steps = max(1, min(100, int(seconds * 10)))
    started = time.monotonic()
    ctx.progress(0.0, f"sleeping {seconds:g} s", stage="sleep")
    for i in range(1, steps + 1):
        deadline = started + seconds * i / steps
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.05))
        ctx.progress(i / steps, f"slept {seconds * i / steps:.1f} of {seconds:g} s")
    return {"slept_seconds": round(time.monotonic() - started, 3)}
