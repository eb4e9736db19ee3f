"""Job handlers by kind. Each is a thin wrapper: read rows, call core, write results.

Handlers import torch and core ML code inside their bodies, never at module import, so the
worker boots without torch.
"""

from __future__ import annotations

from worker.handlers.assemblies import run_assembly
from worker.handlers.canary import run_canary
from worker.handlers.mda import run_component, run_composition
from worker.handlers.models import run_dissect, run_register_model
from worker.handlers.partitions import run_partition, run_partition_add_model
from worker.runner import Handler

HANDLERS: dict[str, Handler] = {
    "canary": run_canary,
    "register_model": run_register_model,
    "dissect": run_dissect,
    "partition": run_partition,
    "partition_add_model": run_partition_add_model,
    "assembly": run_assembly,
    "component": run_component,
    "composition": run_composition,
}
