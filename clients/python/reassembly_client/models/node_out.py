from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.node_out_in_kind import NodeOutInKind
from ..models.node_out_kind import NodeOutKind

T = TypeVar("T", bound="NodeOut")


@_attrs_define
class NodeOut:
    """
    Attributes:
        index (int):
        path (str):
        kind (NodeOutKind):
        in_kind (NodeOutInKind):
        num_prefix_tokens (int):
        in_shape (list[int]):
        out_shape (list[int]):
        params (int):
        flops (int):
    """

    index: int
    path: str
    kind: NodeOutKind
    in_kind: NodeOutInKind
    num_prefix_tokens: int
    in_shape: list[int]
    out_shape: list[int]
    params: int
    flops: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        index = self.index

        path = self.path

        kind = self.kind.value

        in_kind = self.in_kind.value

        num_prefix_tokens = self.num_prefix_tokens

        in_shape = self.in_shape

        out_shape = self.out_shape

        params = self.params

        flops = self.flops

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "index": index,
                "path": path,
                "kind": kind,
                "in_kind": in_kind,
                "num_prefix_tokens": num_prefix_tokens,
                "in_shape": in_shape,
                "out_shape": out_shape,
                "params": params,
                "flops": flops,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        index = d.pop("index")

        path = d.pop("path")

        kind = NodeOutKind(d.pop("kind"))

        in_kind = NodeOutInKind(d.pop("in_kind"))

        num_prefix_tokens = d.pop("num_prefix_tokens")

        in_shape = cast(list[int], d.pop("in_shape"))

        out_shape = cast(list[int], d.pop("out_shape"))

        params = d.pop("params")

        flops = d.pop("flops")

        node_out = cls(
            index=index,
            path=path,
            kind=kind,
            in_kind=in_kind,
            num_prefix_tokens=num_prefix_tokens,
            in_shape=in_shape,
            out_shape=out_shape,
            params=params,
            flops=flops,
        )

        node_out.additional_properties = d
        return node_out

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
