from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.training_mode import TrainingMode
from ..types import UNSET, Unset

T = TypeVar("T", bound="Training")


@_attrs_define
class Training:
    """Defaults chosen on the validation split of benchmarks/dery_fashion.py (docs/results.md).

    Attributes:
        mode (TrainingMode | Unset): none: least-squares stitches and a closed-form head, no gradient step; frozen (FZ):
            then train stitches and head (blocks frozen); finetune (FT): then train everything. Training keeps the best
            epoch on the validation split, the starting point included. Default: TrainingMode.NONE.
        epochs (int | Unset):  Default: 10.
        lr (float | Unset):  Default: 0.001.
        weight_decay (float | Unset):  Default: 0.0001.
        batch_size (int | Unset):  Default: 64.
    """

    mode: TrainingMode | Unset = TrainingMode.NONE
    epochs: int | Unset = 10
    lr: float | Unset = 0.001
    weight_decay: float | Unset = 0.0001
    batch_size: int | Unset = 64

    def to_dict(self) -> dict[str, Any]:
        mode: str | Unset = UNSET
        if not isinstance(self.mode, Unset):
            mode = self.mode.value

        epochs = self.epochs

        lr = self.lr

        weight_decay = self.weight_decay

        batch_size = self.batch_size

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if mode is not UNSET:
            field_dict["mode"] = mode
        if epochs is not UNSET:
            field_dict["epochs"] = epochs
        if lr is not UNSET:
            field_dict["lr"] = lr
        if weight_decay is not UNSET:
            field_dict["weight_decay"] = weight_decay
        if batch_size is not UNSET:
            field_dict["batch_size"] = batch_size

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        _mode = d.pop("mode", UNSET)
        mode: TrainingMode | Unset
        if isinstance(_mode, Unset):
            mode = UNSET
        else:
            mode = TrainingMode(_mode)

        epochs = d.pop("epochs", UNSET)

        lr = d.pop("lr", UNSET)

        weight_decay = d.pop("weight_decay", UNSET)

        batch_size = d.pop("batch_size", UNSET)

        training = cls(
            mode=mode,
            epochs=epochs,
            lr=lr,
            weight_decay=weight_decay,
            batch_size=batch_size,
        )

        return training
