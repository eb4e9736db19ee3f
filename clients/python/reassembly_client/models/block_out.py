from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="BlockOut")


@_attrs_define
class BlockOut:
    """
    Attributes:
        model_id (str):
        model_name (str):
        first_node (int):
        last_node (int):
        first_path (str):
        last_path (str):
        params (int):
        flops (int):
        similarity_to_anchor (float):
    """

    model_id: str
    model_name: str
    first_node: int
    last_node: int
    first_path: str
    last_path: str
    params: int
    flops: int
    similarity_to_anchor: float
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model_id = self.model_id

        model_name = self.model_name

        first_node = self.first_node

        last_node = self.last_node

        first_path = self.first_path

        last_path = self.last_path

        params = self.params

        flops = self.flops

        similarity_to_anchor = self.similarity_to_anchor

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "model_id": model_id,
                "model_name": model_name,
                "first_node": first_node,
                "last_node": last_node,
                "first_path": first_path,
                "last_path": last_path,
                "params": params,
                "flops": flops,
                "similarity_to_anchor": similarity_to_anchor,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        model_id = d.pop("model_id")

        model_name = d.pop("model_name")

        first_node = d.pop("first_node")

        last_node = d.pop("last_node")

        first_path = d.pop("first_path")

        last_path = d.pop("last_path")

        params = d.pop("params")

        flops = d.pop("flops")

        similarity_to_anchor = d.pop("similarity_to_anchor")

        block_out = cls(
            model_id=model_id,
            model_name=model_name,
            first_node=first_node,
            last_node=last_node,
            first_path=first_path,
            last_path=last_path,
            params=params,
            flops=flops,
            similarity_to_anchor=similarity_to_anchor,
        )

        block_out.additional_properties = d
        return block_out

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
