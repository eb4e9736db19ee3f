from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.block_out import BlockOut


T = TypeVar("T", bound="SetOut")


@_attrs_define
class SetOut:
    """
    Attributes:
        index (int):
        anchor (BlockOut):
        blocks (list[BlockOut]):
    """

    index: int
    anchor: BlockOut
    blocks: list[BlockOut]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        index = self.index

        anchor = self.anchor.to_dict()

        blocks = []
        for blocks_item_data in self.blocks:
            blocks_item = blocks_item_data.to_dict()
            blocks.append(blocks_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "index": index,
                "anchor": anchor,
                "blocks": blocks,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.block_out import BlockOut  # noqa: PLC0415

        d = dict(src_dict)
        index = d.pop("index")

        anchor = BlockOut.from_dict(d.pop("anchor"))

        blocks = []
        _blocks = d.pop("blocks")
        for blocks_item_data in _blocks:
            blocks_item = BlockOut.from_dict(blocks_item_data)

            blocks.append(blocks_item)

        set_out = cls(
            index=index,
            anchor=anchor,
            blocks=blocks,
        )

        set_out.additional_properties = d
        return set_out

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
