from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="ThresholdsIn")


@_attrs_define
class ThresholdsIn:
    """α/β per layer kind; the paper's defaults (0.3/0.2 conv, 0.4/0.3 linear).

    Attributes:
        alpha_conv (float | Unset):  Default: 0.3.
        beta_conv (float | Unset):  Default: 0.2.
        alpha_linear (float | Unset):  Default: 0.4.
        beta_linear (float | Unset):  Default: 0.3.
    """

    alpha_conv: float | Unset = 0.3
    beta_conv: float | Unset = 0.2
    alpha_linear: float | Unset = 0.4
    beta_linear: float | Unset = 0.3

    def to_dict(self) -> dict[str, Any]:
        alpha_conv = self.alpha_conv

        beta_conv = self.beta_conv

        alpha_linear = self.alpha_linear

        beta_linear = self.beta_linear

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if alpha_conv is not UNSET:
            field_dict["alpha_conv"] = alpha_conv
        if beta_conv is not UNSET:
            field_dict["beta_conv"] = beta_conv
        if alpha_linear is not UNSET:
            field_dict["alpha_linear"] = alpha_linear
        if beta_linear is not UNSET:
            field_dict["beta_linear"] = beta_linear

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        alpha_conv = d.pop("alpha_conv", UNSET)

        beta_conv = d.pop("beta_conv", UNSET)

        alpha_linear = d.pop("alpha_linear", UNSET)

        beta_linear = d.pop("beta_linear", UNSET)

        thresholds_in = cls(
            alpha_conv=alpha_conv,
            beta_conv=beta_conv,
            alpha_linear=alpha_linear,
            beta_linear=beta_linear,
        )

        return thresholds_in
