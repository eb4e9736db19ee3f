"""Typed requests of the two Model LEGO job kinds. Torch-free: the API validates bodies with these."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.mda.spec import SOURCES


class ThresholdsIn(BaseModel):
    """α/β per layer kind; the paper's defaults (0.3/0.2 conv, 0.4/0.3 linear)."""

    model_config = ConfigDict(extra="forbid")

    alpha_conv: float = Field(0.3, ge=0.0, lt=1.0)
    beta_conv: float = Field(0.2, ge=0.0, lt=1.0)
    alpha_linear: float = Field(0.4, ge=0.0, lt=1.0)
    beta_linear: float = Field(0.3, ge=0.0, lt=1.0)


class ComponentRequest(BaseModel):
    """Disassemble one trained classifier into the component of ``classes``.

    ``classes`` are the model's output indices, in the component's output order; ``class_labels``
    name them in a shared label space (default: the indices themselves) so components of models
    trained on different class subsets can be composed. ``arch``/``arch_kwargs``/``source`` say how
    the unpruned network is built again when the component is loaded."""

    model_config = ConfigDict(extra="forbid")

    classes: list[int] = Field(min_length=1, max_length=100_000)
    class_labels: list[int] | None = None
    arch: str = Field(min_length=1, max_length=200)
    arch_kwargs: dict[str, Any] = Field(default_factory=dict)
    source: str = "timm"
    input_size: tuple[int, int, int]
    thresholds: ThresholdsIn = Field(default_factory=ThresholdsIn)
    sample_fraction: float = Field(0.01, gt=0.0, le=1.0)
    min_samples: int = Field(10, ge=1, le=100_000)
    seed: int = 0
    batch_size: int = Field(32, ge=1, le=4096)
    extra: dict[str, Any] = Field(default_factory=dict)  # manifest items: source model id, dataset id

    @model_validator(mode="after")
    def _check(self) -> ComponentRequest:
        if len(set(self.classes)) != len(self.classes) or min(self.classes) < 0:
            raise ValueError(f"classes must be distinct non-negative output indices, got {self.classes}")
        if self.class_labels is not None and len(self.class_labels) != len(self.classes):
            raise ValueError(
                f"class_labels has {len(self.class_labels)} entries but classes has {len(self.classes)}"
            )
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {list(SOURCES)}, not {self.source!r}")
        return self

    def labels(self) -> list[int]:
        return list(self.class_labels if self.class_labels is not None else self.classes)


class CompositionRequest(BaseModel):
    """Assemble n ≥ 2 components of one architecture into one classifier.

    ``classes`` orders the assembled logits (labels of the components' shared label space; default:
    the components' classes in component order). ``finetune_epochs`` > 0 adds Score2 (all weights
    trained briefly on the given training images)."""

    model_config = ConfigDict(extra="forbid")

    classes: list[int] | None = None
    parameter_scaling: bool = True
    finetune_epochs: int = Field(0, ge=0, le=50)
    finetune_lr: float = Field(1e-3, gt=0.0, le=1.0)
    batch_size: int = Field(64, ge=1, le=4096)
    seed: int = 0
    extra: dict[str, Any] = Field(default_factory=dict)
