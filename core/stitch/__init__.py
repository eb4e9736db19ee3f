"""Stitching layers, the reassembled network, least-squares initialisation, export and loading.

``core.stitch.plan`` (structure and exact cost of a stitch from shapes) needs no torch and is imported
eagerly, so the API and the search can cost candidates without torch. The torch-backed names load on
first use. No exported name equals a submodule name, so importing a submodule never shadows one.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from core.stitch.plan import (
    Endpoint,
    StitchCost,
    StitchPlan,
    head_cost,
    image_node,
    plan_cost,
    plan_stitch,
    stitch_cost,
    stitch_supported,
)

if TYPE_CHECKING:
    from core.stitch.adapter import Stitch, build_stitch
    from core.stitch.export import export_archive, load_archive, weights_sha256
    from core.stitch.fit import fit_stitch, relative_residual
    from core.stitch.head import (
        HeadFit,
        PoolHead,
        fit_head_closed_form,
        fit_head_on_features,
    )
    from core.stitch.network import (
        AssemblySpec,
        BlockRef,
        DonorModel,
        ReassembledNet,
        assembly_cost,
        build_reassembled,
        donor_input_of,
        fit_stitches,
        plan_assembly,
        renormalise,
    )

_LAZY = {
    "Stitch": "core.stitch.adapter",
    "build_stitch": "core.stitch.adapter",
    "export_archive": "core.stitch.export",
    "load_archive": "core.stitch.export",
    "weights_sha256": "core.stitch.export",
    "fit_stitch": "core.stitch.fit",
    "relative_residual": "core.stitch.fit",
    "PoolHead": "core.stitch.head",
    "fit_head_closed_form": "core.stitch.head",
    "fit_head_on_features": "core.stitch.head",
    "HeadFit": "core.stitch.head",
    "renormalise": "core.stitch.network",
    "AssemblySpec": "core.stitch.network",
    "BlockRef": "core.stitch.network",
    "DonorModel": "core.stitch.network",
    "ReassembledNet": "core.stitch.network",
    "assembly_cost": "core.stitch.network",
    "build_reassembled": "core.stitch.network",
    "donor_input_of": "core.stitch.network",
    "fit_stitches": "core.stitch.network",
    "plan_assembly": "core.stitch.network",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'core.stitch' has no attribute {name!r}")


__all__ = [
    "AssemblySpec",
    "BlockRef",
    "DonorModel",
    "Endpoint",
    "PoolHead",
    "ReassembledNet",
    "Stitch",
    "StitchCost",
    "StitchPlan",
    "assembly_cost",
    "build_reassembled",
    "build_stitch",
    "donor_input_of",
    "export_archive",
    "fit_head_closed_form",
    "fit_head_on_features",
    "HeadFit",
    "fit_stitch",
    "fit_stitches",
    "head_cost",
    "image_node",
    "load_archive",
    "plan_assembly",
    "plan_cost",
    "plan_stitch",
    "relative_residual",
    "renormalise",
    "stitch_cost",
    "stitch_supported",
    "weights_sha256",
]
