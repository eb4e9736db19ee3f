from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="CompositionCreate")


@_attrs_define
class CompositionCreate:
    """
    Attributes:
        component_ids (list[str]): Done components of yours, from models of one architecture (distinct).
        scaling_dataset_id (str): Labelled images of the components' classes (their class_labels): a validation split
            scales the logits (and fine-tunes), an eval split gives Score1/Score2.
        classes (list[int] | None | Unset): Order of the assembled logits, as labels of the components (every label
            exactly once); default: each component's labels in component order.
        parameter_scaling (bool | Unset): Scale classifier row j by 1 / the mean winning logit of correctly classified
            class-j images of the validation split. Default: True.
        finetune_epochs (int | Unset): > 0: fine-tune every weight for this many epochs on the validation split and
            report Score2. Default: 0.
        seed (int | Unset): Seeds the validation/eval split and fine-tuning. Default: 0.
        eval_fraction (float | Unset): Stratified share of the images held out for Score1/Score2, never used to choose
            anything. Default: 0.5.
    """

    component_ids: list[str]
    scaling_dataset_id: str
    classes: list[int] | None | Unset = UNSET
    parameter_scaling: bool | Unset = True
    finetune_epochs: int | Unset = 0
    seed: int | Unset = 0
    eval_fraction: float | Unset = 0.5

    def to_dict(self) -> dict[str, Any]:
        component_ids = self.component_ids

        scaling_dataset_id = self.scaling_dataset_id

        classes: list[int] | None | Unset
        if isinstance(self.classes, Unset):
            classes = UNSET
        elif isinstance(self.classes, list):
            classes = self.classes

        else:
            classes = self.classes

        parameter_scaling = self.parameter_scaling

        finetune_epochs = self.finetune_epochs

        seed = self.seed

        eval_fraction = self.eval_fraction

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "component_ids": component_ids,
                "scaling_dataset_id": scaling_dataset_id,
            }
        )
        if classes is not UNSET:
            field_dict["classes"] = classes
        if parameter_scaling is not UNSET:
            field_dict["parameter_scaling"] = parameter_scaling
        if finetune_epochs is not UNSET:
            field_dict["finetune_epochs"] = finetune_epochs
        if seed is not UNSET:
            field_dict["seed"] = seed
        if eval_fraction is not UNSET:
            field_dict["eval_fraction"] = eval_fraction

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        component_ids = cast(list[str], d.pop("component_ids"))

        scaling_dataset_id = d.pop("scaling_dataset_id")

        def _parse_classes(data: object) -> list[int] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                classes_type_0 = cast(list[int], data)

                return classes_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[int] | None | Unset, data)

        classes = _parse_classes(d.pop("classes", UNSET))

        parameter_scaling = d.pop("parameter_scaling", UNSET)

        finetune_epochs = d.pop("finetune_epochs", UNSET)

        seed = d.pop("seed", UNSET)

        eval_fraction = d.pop("eval_fraction", UNSET)

        composition_create = cls(
            component_ids=component_ids,
            scaling_dataset_id=scaling_dataset_id,
            classes=classes,
            parameter_scaling=parameter_scaling,
            finetune_epochs=finetune_epochs,
            seed=seed,
            eval_fraction=eval_fraction,
        )

        return composition_create
