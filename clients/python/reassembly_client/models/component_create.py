from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.thresholds_in import ThresholdsIn


T = TypeVar("T", bound="ComponentCreate")


@_attrs_define
class ComponentCreate:
    """
    Attributes:
        classes (list[int]): Output indices of the model to keep, in the component's output order.
        model_id (str): A ready model of yours: the trained classifier.
        dataset_id (str): Labelled images of the classes: samples are chosen from a fit split, Base vs Disa. measured on
            a held-out split.
        class_labels (list[int] | None | Unset): The dataset label of each kept output (default: the output indices).
            Components of models trained on different class subsets share this label space when composed.
        thresholds (ThresholdsIn | Unset): α/β per layer kind; the paper's defaults (0.3/0.2 conv, 0.4/0.3 linear).
        sample_fraction (float | Unset): Share of each class's correctly classified fit images that drive the
            contributions. Default: 0.01.
        min_samples (int | Unset): At least this many samples per class. Default: 10.
        seed (int | Unset): Seeds the fit/eval split and the sample tie-break. Default: 0.
        eval_fraction (float | Unset): Stratified share of the images held out for Base vs Disa. accuracy; samples are
            chosen only from the rest. Default: 0.2.
    """

    classes: list[int]
    model_id: str
    dataset_id: str
    class_labels: list[int] | None | Unset = UNSET
    thresholds: ThresholdsIn | Unset = UNSET
    sample_fraction: float | Unset = 0.01
    min_samples: int | Unset = 10
    seed: int | Unset = 0
    eval_fraction: float | Unset = 0.2

    def to_dict(self) -> dict[str, Any]:
        classes = self.classes

        model_id = self.model_id

        dataset_id = self.dataset_id

        class_labels: list[int] | None | Unset
        if isinstance(self.class_labels, Unset):
            class_labels = UNSET
        elif isinstance(self.class_labels, list):
            class_labels = self.class_labels

        else:
            class_labels = self.class_labels

        thresholds: dict[str, Any] | Unset = UNSET
        if not isinstance(self.thresholds, Unset):
            thresholds = self.thresholds.to_dict()

        sample_fraction = self.sample_fraction

        min_samples = self.min_samples

        seed = self.seed

        eval_fraction = self.eval_fraction

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "classes": classes,
                "model_id": model_id,
                "dataset_id": dataset_id,
            }
        )
        if class_labels is not UNSET:
            field_dict["class_labels"] = class_labels
        if thresholds is not UNSET:
            field_dict["thresholds"] = thresholds
        if sample_fraction is not UNSET:
            field_dict["sample_fraction"] = sample_fraction
        if min_samples is not UNSET:
            field_dict["min_samples"] = min_samples
        if seed is not UNSET:
            field_dict["seed"] = seed
        if eval_fraction is not UNSET:
            field_dict["eval_fraction"] = eval_fraction

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.thresholds_in import ThresholdsIn  # noqa: PLC0415

        d = dict(src_dict)
        classes = cast(list[int], d.pop("classes"))

        model_id = d.pop("model_id")

        dataset_id = d.pop("dataset_id")

        def _parse_class_labels(data: object) -> list[int] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                class_labels_type_0 = cast(list[int], data)

                return class_labels_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[int] | None | Unset, data)

        class_labels = _parse_class_labels(d.pop("class_labels", UNSET))

        _thresholds = d.pop("thresholds", UNSET)
        thresholds: ThresholdsIn | Unset
        if isinstance(_thresholds, Unset):
            thresholds = UNSET
        else:
            thresholds = ThresholdsIn.from_dict(_thresholds)

        sample_fraction = d.pop("sample_fraction", UNSET)

        min_samples = d.pop("min_samples", UNSET)

        seed = d.pop("seed", UNSET)

        eval_fraction = d.pop("eval_fraction", UNSET)

        component_create = cls(
            classes=classes,
            model_id=model_id,
            dataset_id=dataset_id,
            class_labels=class_labels,
            thresholds=thresholds,
            sample_fraction=sample_fraction,
            min_samples=min_samples,
            seed=seed,
            eval_fraction=eval_fraction,
        )

        return component_create
