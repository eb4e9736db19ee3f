from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.model_create_model_kwargs import ModelCreateModelKwargs
    from ..models.timm_source import TimmSource


T = TypeVar("T", bound="ModelCreate")


@_attrs_define
class ModelCreate:
    """
    Attributes:
        name (str):
        source (TimmSource):
        num_classes (int | None | Unset): Default: the architecture's own.
        input_size (list[int] | None | Unset): [C, H, W]; C in 1, 3, 4 and 8 <= H, W <= 4096.
        model_kwargs (ModelCreateModelKwargs | Unset): Extra timm.create_model architecture arguments (numbers,
            booleans, short words); arguments that load weights, files or URLs are refused.
        class_names (list[str] | None | Unset):
        seed (int | Unset): Seed of the random initialisation when not pretrained. Default: 0.
    """

    name: str
    source: TimmSource
    num_classes: int | None | Unset = UNSET
    input_size: list[int] | None | Unset = UNSET
    model_kwargs: ModelCreateModelKwargs | Unset = UNSET
    class_names: list[str] | None | Unset = UNSET
    seed: int | Unset = 0

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        source = self.source.to_dict()

        num_classes: int | None | Unset
        if isinstance(self.num_classes, Unset):
            num_classes = UNSET
        else:
            num_classes = self.num_classes

        input_size: list[int] | None | Unset
        if isinstance(self.input_size, Unset):
            input_size = UNSET
        elif isinstance(self.input_size, list):
            input_size = self.input_size

        else:
            input_size = self.input_size

        model_kwargs: dict[str, Any] | Unset = UNSET
        if not isinstance(self.model_kwargs, Unset):
            model_kwargs = self.model_kwargs.to_dict()

        class_names: list[str] | None | Unset
        if isinstance(self.class_names, Unset):
            class_names = UNSET
        elif isinstance(self.class_names, list):
            class_names = self.class_names

        else:
            class_names = self.class_names

        seed = self.seed

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "source": source,
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
        if seed is not UNSET:
            field_dict["seed"] = seed

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.model_create_model_kwargs import ModelCreateModelKwargs  # noqa: PLC0415
        from ..models.timm_source import TimmSource  # noqa: PLC0415

        d = dict(src_dict)
        name = d.pop("name")

        source = TimmSource.from_dict(d.pop("source"))

        def _parse_num_classes(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        num_classes = _parse_num_classes(d.pop("num_classes", UNSET))

        def _parse_input_size(data: object) -> list[int] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                input_size_type_0 = cast(list[int], data)

                return input_size_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[int] | None | Unset, data)

        input_size = _parse_input_size(d.pop("input_size", UNSET))

        _model_kwargs = d.pop("model_kwargs", UNSET)
        model_kwargs: ModelCreateModelKwargs | Unset
        if isinstance(_model_kwargs, Unset):
            model_kwargs = UNSET
        else:
            model_kwargs = ModelCreateModelKwargs.from_dict(_model_kwargs)

        def _parse_class_names(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                class_names_type_0 = cast(list[str], data)

                return class_names_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        class_names = _parse_class_names(d.pop("class_names", UNSET))

        seed = d.pop("seed", UNSET)

        model_create = cls(
            name=name,
            source=source,
            num_classes=num_classes,
            input_size=input_size,
            model_kwargs=model_kwargs,
            class_names=class_names,
            seed=seed,
        )

        return model_create
