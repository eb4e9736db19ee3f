"""Job kinds and the queue each runs on. Shared by the API (to route) and the worker (to run).

Light kinds run on the ``cpu`` queue; kinds that run networks go to ``gpu`` so a deployment can
give them GPU workers. One worker may serve both queues (the embedded mode does).
"""

from __future__ import annotations

QUEUE_BY_KIND: dict[str, str] = {
    "canary": "cpu",
    "register_model": "cpu",
    "dissect": "gpu",
    "partition": "gpu",
    "partition_add_model": "gpu",
    "assembly": "gpu",
}

RUN_JOB_TASK = "reassembly.run_job"


def queue_for(kind: str) -> str:
    return QUEUE_BY_KIND[kind]
