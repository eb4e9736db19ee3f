from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..models.assembly_create_proxy import AssemblyCreateProxy
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.constraints import Constraints
    from ..models.training import Training


T = TypeVar("T", bound="AssemblyCreate")


@_attrs_define
class AssemblyCreate:
    """
    Attributes:
        partition_id (str):
        target_dataset_id (str):
        constraints (Constraints):
        proxy (AssemblyCreateProxy | Unset):  Default: AssemblyCreateProxy.NASWOT.
        candidates (int | Unset): How many IP solutions to build and re-rank. Default: 5.
        compat_weight (float | Unset): λ: weight of interface CKA in the IP objective. Default: 1.0.
        probe_images (int | Unset): Target images for LS fits and proxies. Default: 256.
        fit_images (int | Unset): Cap on target images used to fit stitches and head. Default: 2000.
        heldout_images (int | Unset): Cap on held-out target images for accuracy. Default: 1000.
        seed (int | Unset):  Default: 0.
        training (Training | Unset):
    """

    partition_id: str
    target_dataset_id: str
    constraints: Constraints
    proxy: AssemblyCreateProxy | Unset = AssemblyCreateProxy.NASWOT
    candidates: int | Unset = 5
    compat_weight: float | Unset = 1.0
    probe_images: int | Unset = 256
    fit_images: int | Unset = 2000
    heldout_images: int | Unset = 1000
    seed: int | Unset = 0
    training: Training | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        partition_id = self.partition_id

        target_dataset_id = self.target_dataset_id

        constraints = self.constraints.to_dict()

        proxy: str | Unset = UNSET
        if not isinstance(self.proxy, Unset):
            proxy = self.proxy.value

        candidates = self.candidates

        compat_weight = self.compat_weight

        probe_images = self.probe_images

        fit_images = self.fit_images

        heldout_images = self.heldout_images

        seed = self.seed

        training: dict[str, Any] | Unset = UNSET
        if not isinstance(self.training, Unset):
            training = self.training.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "partition_id": partition_id,
                "target_dataset_id": target_dataset_id,
                "constraints": constraints,
            }
        )
        if proxy is not UNSET:
            field_dict["proxy"] = proxy
        if candidates is not UNSET:
            field_dict["candidates"] = candidates
        if compat_weight is not UNSET:
            field_dict["compat_weight"] = compat_weight
        if probe_images is not UNSET:
            field_dict["probe_images"] = probe_images
        if fit_images is not UNSET:
            field_dict["fit_images"] = fit_images
        if heldout_images is not UNSET:
            field_dict["heldout_images"] = heldout_images
        if seed is not UNSET:
            field_dict["seed"] = seed
        if training is not UNSET:
            field_dict["training"] = training

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.constraints import Constraints  # noqa: PLC0415
        from ..models.training import Training  # noqa: PLC0415

        d = dict(src_dict)
        partition_id = d.pop("partition_id")

        target_dataset_id = d.pop("target_dataset_id")

        constraints = Constraints.from_dict(d.pop("constraints"))

        _proxy = d.pop("proxy", UNSET)
        proxy: AssemblyCreateProxy | Unset
        if isinstance(_proxy, Unset):
            proxy = UNSET
        else:
            proxy = AssemblyCreateProxy(_proxy)

        candidates = d.pop("candidates", UNSET)

        compat_weight = d.pop("compat_weight", UNSET)

        probe_images = d.pop("probe_images", UNSET)

        fit_images = d.pop("fit_images", UNSET)

        heldout_images = d.pop("heldout_images", UNSET)

        seed = d.pop("seed", UNSET)

        _training = d.pop("training", UNSET)
        training: Training | Unset
        if isinstance(_training, Unset):
            training = UNSET
        else:
            training = Training.from_dict(_training)

        assembly_create = cls(
            partition_id=partition_id,
            target_dataset_id=target_dataset_id,
            constraints=constraints,
            proxy=proxy,
            candidates=candidates,
            compat_weight=compat_weight,
            probe_images=probe_images,
            fit_images=fit_images,
            heldout_images=heldout_images,
            seed=seed,
            training=training,
        )

        return assembly_create
