from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="DatasetOut")


@_attrs_define
class DatasetOut:
    """
    Attributes:
        id (str):
        name (str):
        artifact_id (str):
        num_images (int):
        image_shape (list[int]):
        num_classes (int):
        class_names (list[str] | None):
        created_at (datetime.datetime):
    """

    id: str
    name: str
    artifact_id: str
    num_images: int
    image_shape: list[int]
    num_classes: int
    class_names: list[str] | None
    created_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        name = self.name

        artifact_id = self.artifact_id

        num_images = self.num_images

        image_shape = self.image_shape

        num_classes = self.num_classes

        class_names: list[str] | None
        if isinstance(self.class_names, list):
            class_names = self.class_names

        else:
            class_names = self.class_names

        created_at = self.created_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "name": name,
                "artifact_id": artifact_id,
                "num_images": num_images,
                "image_shape": image_shape,
                "num_classes": num_classes,
                "class_names": class_names,
                "created_at": created_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        name = d.pop("name")

        artifact_id = d.pop("artifact_id")

        num_images = d.pop("num_images")

        image_shape = cast(list[int], d.pop("image_shape"))

        num_classes = d.pop("num_classes")

        def _parse_class_names(data: object) -> list[str] | None:
            if data is None:
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                class_names_type_0 = cast(list[str], data)

                return class_names_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None, data)

        class_names = _parse_class_names(d.pop("class_names"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        dataset_out = cls(
            id=id,
            name=name,
            artifact_id=artifact_id,
            num_images=num_images,
            image_shape=image_shape,
            num_classes=num_classes,
            class_names=class_names,
            created_at=created_at,
        )

        dataset_out.additional_properties = d
        return dataset_out

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
