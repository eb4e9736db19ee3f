from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

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
        heldout_dataset_id (None | str | Unset): A separate test set of the same classes, used only to report held-out
            accuracy. Without it a stratified share of the target dataset is held out.
        proxy (AssemblyCreateProxy | Unset): Whole-network proxy that ranks the pool: the closed-form head's validation
            accuracy (default: it ranks as well as LogME and makes the best final choice in the benchmark), LogME of the
            assembled features, or NASWOT at initialisation (the paper's). Default: AssemblyCreateProxy.VALIDATION.
        pool_size (int | Unset): Distinct budget-feasible chains drawn and scored. Default: 200.
        candidates (int | Unset): Finalists: the best by the proxy, trained as asked; the best on validation wins.
            Default: 3.
        probe_images (int | Unset): Fit images for the least-squares stitch fits. Default: 256.
        fit_images (int | Unset): Cap on images that fit stitches, head and training. Default: 2000.
        heldout_images (int | Unset): Cap on held-out images (reported, never used to choose). Default: 1000.
        seed (int | Unset):  Default: 0.
        training (Training | Unset): Defaults chosen on the validation split of benchmarks/dery_fashion.py
            (docs/results.md).
    """

    partition_id: str
    target_dataset_id: str
    constraints: Constraints
    heldout_dataset_id: None | str | Unset = UNSET
    proxy: AssemblyCreateProxy | Unset = AssemblyCreateProxy.VALIDATION
    pool_size: int | Unset = 200
    candidates: int | Unset = 3
    probe_images: int | Unset = 256
    fit_images: int | Unset = 2000
    heldout_images: int | Unset = 1000
    seed: int | Unset = 0
    training: Training | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        partition_id = self.partition_id

        target_dataset_id = self.target_dataset_id

        constraints = self.constraints.to_dict()

        heldout_dataset_id: None | str | Unset
        if isinstance(self.heldout_dataset_id, Unset):
            heldout_dataset_id = UNSET
        else:
            heldout_dataset_id = self.heldout_dataset_id

        proxy: str | Unset = UNSET
        if not isinstance(self.proxy, Unset):
            proxy = self.proxy.value

        pool_size = self.pool_size

        candidates = self.candidates

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
        if heldout_dataset_id is not UNSET:
            field_dict["heldout_dataset_id"] = heldout_dataset_id
        if proxy is not UNSET:
            field_dict["proxy"] = proxy
        if pool_size is not UNSET:
            field_dict["pool_size"] = pool_size
        if candidates is not UNSET:
            field_dict["candidates"] = candidates
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

        def _parse_heldout_dataset_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        heldout_dataset_id = _parse_heldout_dataset_id(d.pop("heldout_dataset_id", UNSET))

        _proxy = d.pop("proxy", UNSET)
        proxy: AssemblyCreateProxy | Unset
        if isinstance(_proxy, Unset):
            proxy = UNSET
        else:
            proxy = AssemblyCreateProxy(_proxy)

        pool_size = d.pop("pool_size", UNSET)

        candidates = d.pop("candidates", UNSET)

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
            heldout_dataset_id=heldout_dataset_id,
            proxy=proxy,
            pool_size=pool_size,
            candidates=candidates,
            probe_images=probe_images,
            fit_images=fit_images,
            heldout_images=heldout_images,
            seed=seed,
            training=training,
        )

        return assembly_create
