from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="TimmSource")


@_attrs_define
class TimmSource:
    """
    Attributes:
        timm (str): A timm model name, e.g. 'resnet50.a1_in1k' or 'test_vit'.
        pretrained (bool | Unset): Download timm's pretrained weights (needs internet access). Default: False.
    """

    timm: str
    pretrained: bool | Unset = False

    def to_dict(self) -> dict[str, Any]:
        timm = self.timm

        pretrained = self.pretrained

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "timm": timm,
            }
        )
        if pretrained is not UNSET:
            field_dict["pretrained"] = pretrained

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        timm = d.pop("timm")

        pretrained = d.pop("pretrained", UNSET)

        timm_source = cls(
            timm=timm,
            pretrained=pretrained,
        )

        return timm_source
