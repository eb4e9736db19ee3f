"""The structural spec of a component or a composition: enough to rebuild the network with no pickle.

A spec names the base architecture (a timm or torchvision builder, its keyword arguments) and the
shape of every layer that pruning or alignment padding replaced; the weights live beside it in a
safetensors file. Rebuilding = build the base, replace those layers by empty ones of the recorded
shapes, load the weights strictly. Torch-free, so the API can read and validate specs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from core.errors import InvalidInput

SPEC_FORMAT = "reassembly-mda/1"
SOURCES = ("timm", "torchvision")
MODULE_TYPES = ("Conv2d", "Linear", "BatchNorm2d", "BatchNorm1d")


@dataclass(frozen=True)
class BaseArch:
    """How to build the unpruned network: ``timm.create_model(arch, **kwargs)`` or
    ``torchvision.models.get_model(arch, **kwargs)`` (no pretrained weights either way)."""

    arch: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    source: str = "timm"

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise InvalidInput(f"unknown model source {self.source!r}; use one of {list(SOURCES)}")

    def family(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        """What must match for alignment padding: source, arch and kwargs other than the class count."""
        rest = tuple(sorted((k, repr(v)) for k, v in self.kwargs.items() if k != "num_classes"))
        return (self.source, self.arch, rest)


@dataclass
class ComponentSpec:
    """A component (one source model, a class subset) or a composition (several components)."""

    kind: str  # "component" | "composition"
    base: BaseArch
    input_size: tuple[int, int, int]
    modules: dict[str, dict[str, Any]]  # qualified name -> replacement layer shape
    class_labels: list[int]  # the label of each output, in output order
    source_classes: list[int] = field(default_factory=list)  # component: source model output indices
    thresholds: dict[str, float] = field(default_factory=dict)
    scales: list[float] | None = None  # composition: parameter-scaling factor per output
    sources: list[dict[str, Any]] = field(default_factory=list)  # composition: its components' manifests
    extra: dict[str, Any] = field(default_factory=dict)  # caller's manifest items (model id, dataset id)
    format: str = SPEC_FORMAT

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["input_size"] = list(self.input_size)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ComponentSpec:
        if not isinstance(d, dict) or d.get("format") != SPEC_FORMAT:
            raise InvalidInput(
                f"not a {SPEC_FORMAT} spec (format={d.get('format') if isinstance(d, dict) else d!r})"
            )
        try:
            spec = cls(
                **{
                    **d,
                    "base": BaseArch(**d["base"]),
                    "input_size": tuple(int(v) for v in d["input_size"]),
                }
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"malformed {SPEC_FORMAT} spec: {exc}") from exc
        if spec.kind not in ("component", "composition"):
            raise InvalidInput(f"spec kind must be 'component' or 'composition', not {spec.kind!r}")
        for name, entry in spec.modules.items():
            if not isinstance(entry, dict) or entry.get("type") not in MODULE_TYPES:
                raise InvalidInput(f"spec entry {name!r} must be one of {list(MODULE_TYPES)}")
        return spec
