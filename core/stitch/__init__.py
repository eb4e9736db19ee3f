"""Stitching layers, the reassembled network, least-squares initialisation, export and loading.

``core.stitch.plan`` (structure and exact cost of a stitch from shapes) needs no torch and is imported
eagerly, so the API and the search can cost candidates without torch. The torch-backed names load on
first use. No exported name equals a submodule name, so importing a submodule never shadows one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_getattr
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

__getattr__ = lazy_getattr(
    __name__,
    {
        "adapter": "Stitch build_stitch",
        "export": "export_archive load_archive weights_sha256",
        "fit": "fit_stitch relative_residual",
        "head": "HeadFit PoolHead fit_head_closed_form fit_head_on_features",
        "network": "AssemblySpec BlockRef DonorModel ReassembledNet assembly_cost build_reassembled "
        "donor_input_of fit_stitches plan_assembly renormalise",
    },
)

__all__ = ["Endpoint", "StitchCost", "StitchPlan", "head_cost", "image_node", "plan_cost", "plan_stitch"]
__all__ += ["stitch_cost", "stitch_supported", "Stitch", "build_stitch", "export_archive", "load_archive"]
__all__ += ["weights_sha256", "fit_stitch", "relative_residual", "HeadFit", "PoolHead"]
__all__ += ["fit_head_closed_form", "fit_head_on_features", "AssemblySpec", "BlockRef", "DonorModel"]
__all__ += ["ReassembledNet", "assembly_cost", "build_reassembled", "donor_input_of", "fit_stitches"]
__all__ += ["plan_assembly", "renormalise"]
