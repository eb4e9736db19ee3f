from __future__ import annotations

from collections.abc import Mapping
from io import BytesIO
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from .. import types
from ..types import UNSET, File, Unset

T = TypeVar("T", bound="BodyUploadModel")


@_attrs_define
class BodyUploadModel:
    """
    Attributes:
        weights (File): The weights as a .safetensors file.
        name (str):
        architecture (str): The timm model name the weights belong to.
        num_classes (int | None | Unset):
        input_size (None | str | Unset): JSON [C, H, W], e.g. "[3, 224, 224]"
        model_kwargs (str | Unset): JSON object of timm.create_model arguments Default: '{}'.
        class_names (None | str | Unset): JSON list of class names
        mean (None | str | Unset): JSON list: per-channel input mean
        std (None | str | Unset): JSON list: per-channel input std
        metrics (None | str | Unset): JSON object, e.g. {"source_accuracy": 0.91}
    """

    weights: File
    name: str
    architecture: str
    num_classes: int | None | Unset = UNSET
    input_size: None | str | Unset = UNSET
    model_kwargs: str | Unset = "{}"
    class_names: None | str | Unset = UNSET
    mean: None | str | Unset = UNSET
    std: None | str | Unset = UNSET
    metrics: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        weights = self.weights.to_tuple()

        name = self.name

        architecture = self.architecture

        num_classes: int | None | Unset
        if isinstance(self.num_classes, Unset):
            num_classes = UNSET
        else:
            num_classes = self.num_classes

        input_size: None | str | Unset
        if isinstance(self.input_size, Unset):
            input_size = UNSET
        else:
            input_size = self.input_size

        model_kwargs = self.model_kwargs

        class_names: None | str | Unset
        if isinstance(self.class_names, Unset):
            class_names = UNSET
        else:
            class_names = self.class_names

        mean: None | str | Unset
        if isinstance(self.mean, Unset):
            mean = UNSET
        else:
            mean = self.mean

        std: None | str | Unset
        if isinstance(self.std, Unset):
            std = UNSET
        else:
            std = self.std

        metrics: None | str | Unset
        if isinstance(self.metrics, Unset):
            metrics = UNSET
        else:
            metrics = self.metrics

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "weights": weights,
                "name": name,
                "architecture": architecture,
            }
        )
        if num_classes is not UNSET:
            field_dict["num_classes"] = num_classes
        if input_size is not UNSET:
            field_dict["input_size"] = input_size
        if model_kwargs is not UNSET:
            field_dict["model_kwargs"] = model_kwargs
        if class_names is not UNSET:
            field_dict["class_names"] = class_names
        if mean is not UNSET:
            field_dict["mean"] = mean
        if std is not UNSET:
            field_dict["std"] = std
        if metrics is not UNSET:
            field_dict["metrics"] = metrics

        return field_dict

    def to_multipart(self) -> types.RequestFiles:
        files: types.RequestFiles = []

        files.append(("weights", self.weights.to_tuple()))

        files.append(("name", (None, str(self.name).encode(), "text/plain")))

        files.append(("architecture", (None, str(self.architecture).encode(), "text/plain")))

        if not isinstance(self.num_classes, Unset):
            if isinstance(self.num_classes, int):
                files.append(("num_classes", (None, str(self.num_classes).encode(), "text/plain")))
            else:
                files.append(("num_classes", (None, str(self.num_classes).encode(), "text/plain")))

        if not isinstance(self.input_size, Unset):
            if isinstance(self.input_size, str):
                files.append(("input_size", (None, str(self.input_size).encode(), "text/plain")))
            else:
                files.append(("input_size", (None, str(self.input_size).encode(), "text/plain")))

        if not isinstance(self.model_kwargs, Unset):
            files.append(("model_kwargs", (None, str(self.model_kwargs).encode(), "text/plain")))

        if not isinstance(self.class_names, Unset):
            if isinstance(self.class_names, str):
                files.append(("class_names", (None, str(self.class_names).encode(), "text/plain")))
            else:
                files.append(("class_names", (None, str(self.class_names).encode(), "text/plain")))

        if not isinstance(self.mean, Unset):
            if isinstance(self.mean, str):
                files.append(("mean", (None, str(self.mean).encode(), "text/plain")))
            else:
                files.append(("mean", (None, str(self.mean).encode(), "text/plain")))

        if not isinstance(self.std, Unset):
            if isinstance(self.std, str):
                files.append(("std", (None, str(self.std).encode(), "text/plain")))
            else:
                files.append(("std", (None, str(self.std).encode(), "text/plain")))

        if not isinstance(self.metrics, Unset):
            if isinstance(self.metrics, str):
                files.append(("metrics", (None, str(self.metrics).encode(), "text/plain")))
            else:
                files.append(("metrics", (None, str(self.metrics).encode(), "text/plain")))

        for prop_name, prop in self.additional_properties.items():
            files.append((prop_name, (None, str(prop).encode(), "text/plain")))

        return files

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        weights = File(payload=BytesIO(d.pop("weights")))

        name = d.pop("name")

        architecture = d.pop("architecture")

        def _parse_num_classes(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        num_classes = _parse_num_classes(d.pop("num_classes", UNSET))

        def _parse_input_size(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        input_size = _parse_input_size(d.pop("input_size", UNSET))

        model_kwargs = d.pop("model_kwargs", UNSET)

        def _parse_class_names(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        class_names = _parse_class_names(d.pop("class_names", UNSET))

        def _parse_mean(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        mean = _parse_mean(d.pop("mean", UNSET))

        def _parse_std(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        std = _parse_std(d.pop("std", UNSET))

        def _parse_metrics(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        metrics = _parse_metrics(d.pop("metrics", UNSET))

        body_upload_model = cls(
            weights=weights,
            name=name,
            architecture=architecture,
            num_classes=num_classes,
            input_size=input_size,
            model_kwargs=model_kwargs,
            class_names=class_names,
            mean=mean,
            std=std,
            metrics=metrics,
        )

        body_upload_model.additional_properties = d
        return body_upload_model

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
