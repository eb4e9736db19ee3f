from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="Constraints")


@_attrs_define
class Constraints:
    """
    Attributes:
        max_params (int | None | Unset): Upper bound on the whole network's parameters.
        max_flops (int | None | Unset): Upper bound on FLOPs per image (multiply-add = 2).
        min_params (int | None | Unset): Lower bound on the whole network's parameters.
        min_flops (int | None | Unset): Lower bound on FLOPs per image (multiply-add = 2).
        max_latency_ms (float | None | Unset): Sum of the chosen blocks' latencies on one image, timed on the worker.
        min_donors (int | Unset): Fewest distinct donor models a candidate takes blocks from. An assembly is a
            reassembly unless the user asks otherwise: min_donors=1 allows a single donor's own chain. Default: 2.
    """

    max_params: int | None | Unset = UNSET
    max_flops: int | None | Unset = UNSET
    min_params: int | None | Unset = UNSET
    min_flops: int | None | Unset = UNSET
    max_latency_ms: float | None | Unset = UNSET
    min_donors: int | Unset = 2

    def to_dict(self) -> dict[str, Any]:
        max_params: int | None | Unset
        if isinstance(self.max_params, Unset):
            max_params = UNSET
        else:
            max_params = self.max_params

        max_flops: int | None | Unset
        if isinstance(self.max_flops, Unset):
            max_flops = UNSET
        else:
            max_flops = self.max_flops

        min_params: int | None | Unset
        if isinstance(self.min_params, Unset):
            min_params = UNSET
        else:
            min_params = self.min_params

        min_flops: int | None | Unset
        if isinstance(self.min_flops, Unset):
            min_flops = UNSET
        else:
            min_flops = self.min_flops

        max_latency_ms: float | None | Unset
        if isinstance(self.max_latency_ms, Unset):
            max_latency_ms = UNSET
        else:
            max_latency_ms = self.max_latency_ms

        min_donors = self.min_donors

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if max_params is not UNSET:
            field_dict["max_params"] = max_params
        if max_flops is not UNSET:
            field_dict["max_flops"] = max_flops
        if min_params is not UNSET:
            field_dict["min_params"] = min_params
        if min_flops is not UNSET:
            field_dict["min_flops"] = min_flops
        if max_latency_ms is not UNSET:
            field_dict["max_latency_ms"] = max_latency_ms
        if min_donors is not UNSET:
            field_dict["min_donors"] = min_donors

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_max_params(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        max_params = _parse_max_params(d.pop("max_params", UNSET))

        def _parse_max_flops(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        max_flops = _parse_max_flops(d.pop("max_flops", UNSET))

        def _parse_min_params(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        min_params = _parse_min_params(d.pop("min_params", UNSET))

        def _parse_min_flops(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        min_flops = _parse_min_flops(d.pop("min_flops", UNSET))

        def _parse_max_latency_ms(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        max_latency_ms = _parse_max_latency_ms(d.pop("max_latency_ms", UNSET))

        min_donors = d.pop("min_donors", UNSET)

        constraints = cls(
            max_params=max_params,
            max_flops=max_flops,
            min_params=min_params,
            min_flops=min_flops,
            max_latency_ms=max_latency_ms,
            min_donors=min_donors,
        )

        return constraints
