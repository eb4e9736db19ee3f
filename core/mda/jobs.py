"""What a component or composition job stores as its row's ``config``, and the class-list rules the
API checks before queueing and the worker checks again. Torch-free: the API imports it.

A component's ``classes`` are output indices of the registered model; ``class_labels`` name them in
the dataset's label space (default: the indices themselves), which is also the label space every
composition of those components works in.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from core.limits import MAX_CLASSES, MAX_SEED
from core.mda.request import ThresholdsIn

ClassIndex = Annotated[int, Field(ge=0, lt=MAX_CLASSES)]
ClassList = Annotated[list[ClassIndex], Field(max_length=4096)]
MAX_COMPONENTS = 32


def held_out(default: float, purpose: str) -> Any:
    """The stratified share of the dataset's images (of the job's classes) held out for ``purpose``."""
    return Field(
        default, ge=0.05, le=0.8, description=f"Stratified share of the images held out for {purpose}."
    )


class ComponentJob(BaseModel):
    """A component of a registered model for a class subset, selected and evaluated on a dataset."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    classes: ClassList = Field(
        ..., min_length=1, description="Output indices of the model to keep, in the component's output order."
    )
    class_labels: ClassList | None = Field(
        None,
        description="The dataset label of each kept output (default: the output indices). Components "
        "of models trained on different class subsets share this label space when composed.",
    )
    thresholds: ThresholdsIn = Field(
        default_factory=ThresholdsIn, description="α/β of the relevance masks, per layer kind."
    )
    sample_fraction: float = Field(
        0.01,
        gt=0.0,
        le=1.0,
        description="Share of each class's correctly classified fit images that drive the contributions.",
    )
    min_samples: int = Field(10, ge=1, le=10_000, description="At least this many samples per class.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seeds the fit/eval split and the sample tie-break.")
    eval_fraction: float = held_out(0.2, "Base vs Disa. accuracy; samples are chosen only from the rest")

    def labels(self) -> list[int]:
        return list(self.class_labels if self.class_labels is not None else self.classes)

    def class_problem(self, num_classes: int, dataset_classes: int | None = None) -> str | None:
        """Why this class list cannot be served by a model with ``num_classes`` outputs (and a dataset
        whose labels go up to ``dataset_classes`` - 1), or None."""
        if not self.classes:
            return "classes is empty; name at least one output index of the model"
        repeated = sorted({c for c in self.classes if self.classes.count(c) > 1})
        if repeated:
            return f"classes lists {repeated} more than once; each output index may appear once"
        outside = sorted(c for c in self.classes if c >= num_classes)
        if outside:
            return (
                f"classes {outside} do not exist: the model has {num_classes} outputs (0–{num_classes - 1})"
            )
        if self.class_labels is not None:
            if len(self.class_labels) != len(self.classes):
                return (
                    f"class_labels has {len(self.class_labels)} entries but classes has "
                    f"{len(self.classes)}; give one dataset label per output"
                )
            twice = sorted({c for c in self.class_labels if self.class_labels.count(c) > 1})
            if twice:
                return f"class_labels lists {twice} more than once; each label may appear once"
        if dataset_classes is not None:
            absent = sorted(c for c in self.labels() if c >= dataset_classes)
            if absent:
                return (
                    f"the dataset has no images labelled {absent} (its labels go up to "
                    f"{dataset_classes - 1}); give class_labels in the dataset's label space"
                )
        return None


class CompositionJob(BaseModel):
    """Components of one architecture assembled into one classifier, scaled on a dataset."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    classes: ClassList | None = Field(
        None,
        description="Order of the assembled logits, as labels of the components (every label exactly "
        "once); default: each component's labels in component order.",
    )
    parameter_scaling: bool = Field(
        True,
        description="Scale classifier row j by 1 / the mean winning logit of correctly classified "
        "class-j images of the validation split.",
    )
    finetune_epochs: int = Field(
        0,
        ge=0,
        le=20,
        description="> 0: fine-tune every weight for this many epochs on the validation split and "
        "report Score2.",
    )
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seeds the validation/eval split and fine-tuning.")
    eval_fraction: float = held_out(0.5, "Score1/Score2, never used to choose anything")
