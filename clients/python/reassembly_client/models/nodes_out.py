from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.node_out import NodeOut
    from ..models.nodes_out_head import NodesOutHead
    from ..models.nodes_out_stem import NodesOutStem


T = TypeVar("T", bound="NodesOut")


@_attrs_define
class NodesOut:
    """
    Attributes:
        model_id (str):
        input_size (list[int]):
        nodes (list[NodeOut]):
        stem (NodesOutStem):
        head (NodesOutHead):
        total_params (int):
        total_flops (int):
        max_abs_error (float):
    """

    model_id: str
    input_size: list[int]
    nodes: list[NodeOut]
    stem: NodesOutStem
    head: NodesOutHead
    total_params: int
    total_flops: int
    max_abs_error: float
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model_id = self.model_id

        input_size = self.input_size

        nodes = []
        for nodes_item_data in self.nodes:
            nodes_item = nodes_item_data.to_dict()
            nodes.append(nodes_item)

        stem = self.stem.to_dict()

        head = self.head.to_dict()

        total_params = self.total_params

        total_flops = self.total_flops

        max_abs_error = self.max_abs_error

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "model_id": model_id,
                "input_size": input_size,
                "nodes": nodes,
                "stem": stem,
                "head": head,
                "total_params": total_params,
                "total_flops": total_flops,
                "max_abs_error": max_abs_error,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.node_out import NodeOut  # noqa: PLC0415
        from ..models.nodes_out_head import NodesOutHead  # noqa: PLC0415
        from ..models.nodes_out_stem import NodesOutStem  # noqa: PLC0415

        d = dict(src_dict)
        model_id = d.pop("model_id")

        input_size = cast(list[int], d.pop("input_size"))

        nodes = []
        _nodes = d.pop("nodes")
        for nodes_item_data in _nodes:
            nodes_item = NodeOut.from_dict(nodes_item_data)

            nodes.append(nodes_item)

        stem = NodesOutStem.from_dict(d.pop("stem"))

        head = NodesOutHead.from_dict(d.pop("head"))

        total_params = d.pop("total_params")

        total_flops = d.pop("total_flops")

        max_abs_error = d.pop("max_abs_error")

        nodes_out = cls(
            model_id=model_id,
            input_size=input_size,
            nodes=nodes,
            stem=stem,
            head=head,
            total_params=total_params,
            total_flops=total_flops,
            max_abs_error=max_abs_error,
        )

        nodes_out.additional_properties = d
        return nodes_out

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
