from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.partition_create_method import PartitionCreateMethod
from ..models.partition_create_size_measure import PartitionCreateSizeMeasure
from ..types import UNSET, Unset

T = TypeVar("T", bound="PartitionCreate")


@_attrs_define
class PartitionCreate:
    """
    Attributes:
        model_ids (list[str]): Dissected models, in the order reported.
        probe_dataset_id (str):
        k (int | Unset): Number of equivalence sets. Default: 4.
        epsilon (float | Unset): Size bound |B| < (1+ε)|M|/K. Default: 0.2.
        size_measure (PartitionCreateSizeMeasure | Unset):  Default: PartitionCreateSizeMeasure.NODES.
        restarts (int | Unset):  Default: 200.
        seed (int | Unset):  Default: 0.
        method (PartitionCreateMethod | Unset): dp = exact re-cut; local = the paper's moves. Default:
            PartitionCreateMethod.DP.
        probe_images (int | Unset):  Default: 512.
        batch_size (int | Unset):  Default: 64.
    """

    model_ids: list[str]
    probe_dataset_id: str
    k: int | Unset = 4
    epsilon: float | Unset = 0.2
    size_measure: PartitionCreateSizeMeasure | Unset = PartitionCreateSizeMeasure.NODES
    restarts: int | Unset = 200
    seed: int | Unset = 0
    method: PartitionCreateMethod | Unset = PartitionCreateMethod.DP
    probe_images: int | Unset = 512
    batch_size: int | Unset = 64

    def to_dict(self) -> dict[str, Any]:
        model_ids = self.model_ids

        probe_dataset_id = self.probe_dataset_id

        k = self.k

        epsilon = self.epsilon

        size_measure: str | Unset = UNSET
        if not isinstance(self.size_measure, Unset):
            size_measure = self.size_measure.value

        restarts = self.restarts

        seed = self.seed

        method: str | Unset = UNSET
        if not isinstance(self.method, Unset):
            method = self.method.value

        probe_images = self.probe_images

        batch_size = self.batch_size

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "model_ids": model_ids,
                "probe_dataset_id": probe_dataset_id,
            }
        )
        if k is not UNSET:
            field_dict["k"] = k
        if epsilon is not UNSET:
            field_dict["epsilon"] = epsilon
        if size_measure is not UNSET:
            field_dict["size_measure"] = size_measure
        if restarts is not UNSET:
            field_dict["restarts"] = restarts
        if seed is not UNSET:
            field_dict["seed"] = seed
        if method is not UNSET:
            field_dict["method"] = method
        if probe_images is not UNSET:
            field_dict["probe_images"] = probe_images
        if batch_size is not UNSET:
            field_dict["batch_size"] = batch_size

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        model_ids = cast(list[str], d.pop("model_ids"))

        probe_dataset_id = d.pop("probe_dataset_id")

        k = d.pop("k", UNSET)

        epsilon = d.pop("epsilon", UNSET)

        _size_measure = d.pop("size_measure", UNSET)
        size_measure: PartitionCreateSizeMeasure | Unset
        if isinstance(_size_measure, Unset):
            size_measure = UNSET
        else:
            size_measure = PartitionCreateSizeMeasure(_size_measure)

        restarts = d.pop("restarts", UNSET)

        seed = d.pop("seed", UNSET)

        _method = d.pop("method", UNSET)
        method: PartitionCreateMethod | Unset
        if isinstance(_method, Unset):
            method = UNSET
        else:
            method = PartitionCreateMethod(_method)

        probe_images = d.pop("probe_images", UNSET)

        batch_size = d.pop("batch_size", UNSET)

        partition_create = cls(
            model_ids=model_ids,
            probe_dataset_id=probe_dataset_id,
            k=k,
            epsilon=epsilon,
            size_measure=size_measure,
            restarts=restarts,
            seed=seed,
            method=method,
            probe_images=probe_images,
            batch_size=batch_size,
        )

        return partition_create
