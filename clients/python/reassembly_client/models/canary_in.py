from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="CanaryIn")


@_attrs_define
class CanaryIn:
    """
    Attributes:
        seconds (float | Unset): How long the canary job sleeps (with progress); the server's limit may be lower.
            Default: 1.0.
    """

    seconds: float | Unset = 1.0

    def to_dict(self) -> dict[str, Any]:
        seconds = self.seconds

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if seconds is not UNSET:
            field_dict["seconds"] = seconds

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        seconds = d.pop("seconds", UNSET)

        canary_in = cls(
            seconds=seconds,
        )

        return canary_in
