"""Building and scoring one chain of blocks on the target task, the same way for a reassembly and
for a zoo model kept whole (one block spanning all its nodes, a new head): the baseline is measured
with exactly the machinery of the candidates it is compared with.

The target is split three ways: *fit* (stitches, head, training), *validation* (carved from the
fit data: the ridge, the proxy ranking, the best epoch, the final choice and the recommendation)
and *held-out* (reported, never used to choose anything).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from core.assembly.request import Proxy
from core.device import prepare_on
from core.dissect import SplitModel
from core.dissect.types import Dissection
from core.errors import InvalidInput
from core.flops import count_flops, count_params
from core.proxy import ProxyScore, logme, naswot
from core.proxy.features import pooled_features
from core.stitch import AssemblySpec, BlockRef, DonorModel, ReassembledNet, fit_stitches
from core.stitch.head import RIDGES, fit_head_on_features
from core.stitch.network import stitch_records

Split = Literal["fit", "validation", "heldout"]


@dataclass
class Donor:
    """A dissected model blocks may come from; ``info`` carries its normalisation and weights hash."""

    key: str
    name: str
    net: nn.Module
    split: SplitModel
    dissection: Dissection
    info: DonorModel

    def to(self, device: torch.device | str) -> Donor:
        """Move the donor's network (and the pieces that share its weights) to ``device``, in place."""
        self.net.to(device)
        self.split.to(device)
        return self

    def whole(self) -> tuple[BlockRef, ...]:
        """The chain of the whole model: one block over all its nodes."""
        return (BlockRef(self.key, 0, len(self.dissection.nodes) - 1),)


@dataclass
class TargetData:
    """Target images (uint8, N×H×W[×C]) and labels in three splits, and each donor's view of them
    (resized and normalised its own way, on ``device``), prepared once and shared by every candidate."""

    images: dict[Split, np.ndarray]
    labels: dict[Split, np.ndarray]
    num_classes: int
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    _inputs: dict[tuple[str, Split], torch.Tensor] = field(default_factory=dict, repr=False)

    @classmethod
    def from_arrays(
        cls,
        images: np.ndarray,
        labels: np.ndarray,
        num_classes: int,
        *,
        seed: int = 0,
        heldout: tuple[np.ndarray, np.ndarray] | None = None,
        heldout_fraction: float = 0.2,
        validation_fraction: float = 0.2,
        max_fit: int | None = None,
        max_heldout: int | None = None,
        device: torch.device | str = "cpu",
    ) -> TargetData:
        """Held-out = ``heldout`` when given (a separate test set), else a stratified share of
        ``images``; the validation split is a stratified share of what remains for fitting."""
        from core.zoo.data import stratified_split

        if heldout is None:
            rest, held = stratified_split(labels, heldout_fraction, seed, max_per_split=(None, max_heldout))
            held_images, held_labels = images[held], labels[held]
        else:
            rest = np.arange(len(labels))
            held_images, held_labels = heldout[0][:max_heldout], heldout[1][:max_heldout]
        val_cap = (
            None
            if max_fit is None
            else max(1, round(max_fit * validation_fraction / (1 - validation_fraction)))
        )
        fit, val = stratified_split(
            labels[rest], validation_fraction, seed + 1, max_per_split=(max_fit, val_cap)
        )
        fit, val = rest[fit], rest[val]
        return cls(
            images={"fit": images[fit], "validation": images[val], "heldout": held_images},
            labels={"fit": labels[fit], "validation": labels[val], "heldout": held_labels},
            num_classes=num_classes,
            device=torch.device(device),
        )

    def inputs(self, donor: DonorModel, split: Split) -> torch.Tensor:
        """The split's images as ``donor`` takes them, decoded, resized and normalised on the device."""
        key = (donor.key, split)
        if key not in self._inputs:
            self._inputs[key] = prepare_on(
                self.images[split], donor.input_size, donor.mean, donor.std, self.device
            )
        return self._inputs[key]

    def label_tensor(self, split: Split) -> torch.Tensor:
        return torch.from_numpy(self.labels[split]).to(self.device)

    def sizes(self) -> dict[str, int]:
        return {f"{s}_images": len(v) for s, v in self.labels.items()}


@dataclass
class Evaluation:
    """One chain built with least-squares stitches and a closed-form head, and its scores."""

    chain: tuple[BlockRef, ...]
    net: ReassembledNet
    params: int
    flops: int
    ridge: float
    fit_accuracy: float
    validation_accuracy: float
    logme: float
    naswot_init: ProxyScore | None = None
    naswot_fitted: ProxyScore | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    heldout_accuracy: float | None = None

    @property
    def donors(self) -> list[str]:
        return list(dict.fromkeys(b.model for b in self.chain))

    def proxy(self, name: Proxy) -> float:
        """The value the ranking uses (higher is better; a degenerate score ranks last)."""
        if name == "validation":
            value = self.validation_accuracy
        elif name == "logme":
            value = self.logme
        else:
            score = self.naswot_init
            value = score.value if score is not None and score.finite else -math.inf
        return value if math.isfinite(value) else -math.inf

    def scores(self) -> dict[str, Any]:
        return {
            "validation_accuracy": self.validation_accuracy,
            "logme": self.logme,
            "naswot": self.naswot_init.to_dict() if self.naswot_init else None,
            "naswot_fitted": self.naswot_fitted.to_dict() if self.naswot_fitted else None,
        }

    def final_validation_accuracy(self) -> float:
        """After training when trained (the kept epoch), else the closed-form head's."""
        kept = [h["validation_accuracy"] for h in self.history if h.get("kept")]
        return kept[0] if kept else self.validation_accuracy


def spec_for(
    chain: Sequence[BlockRef], donors: Mapping[str, Donor], num_classes: int, seed: int
) -> AssemblySpec:
    used = list(dict.fromkeys(r.model for r in chain))
    return AssemblySpec(
        blocks=tuple(chain), donors=tuple(donors[k].info for k in used), num_classes=num_classes, seed=seed
    )


def _finite(feats: torch.Tensor, chain: Sequence[BlockRef], split: str) -> torch.Tensor:
    if not bool(torch.isfinite(feats).all()):
        raise InvalidInput(
            f"the network {' → '.join(f'{b.model}[{b.first}-{b.last}]' for b in chain)} gives non-finite "
            f"features on the {split} images: check the donors' weights and input normalisation"
        )
    return feats


def evaluate_chain(
    chain: Sequence[BlockRef],
    donors: Mapping[str, Donor],
    target: TargetData,
    *,
    seed: int = 0,
    probe_images: int = 256,
    with_naswot: bool = False,
) -> Evaluation:
    """Build ``chain``, fit its stitches by least squares on ``probe_images`` fit images, choose the
    closed-form head's ridge on validation, and score it. ``with_naswot`` adds NASWOT at
    initialisation (5 × 32 shuffled fit images, before the LS fit, as DeRy) and after the LS fit."""
    spec = spec_for(chain, donors, target.num_classes, seed)
    for k in spec.donor_keys:  # the donors run on the target's device (a no-op once they are there)
        donors[k].to(target.device)
    net = ReassembledNet(
        spec,
        {k: donors[k].split for k in spec.donor_keys},
        {k: donors[k].dissection for k in spec.donor_keys},
        device=target.device,
    )
    entry = donors[chain[0].model].info
    fit_x, val_x = target.inputs(entry, "fit"), target.inputs(entry, "validation")
    fit_y, val_y = target.label_tensor("fit"), target.label_tensor("validation")
    init_score = naswot(net, fit_x, n_batches=5, batch_size=32, seed=seed) if with_naswot else None
    fit_stitches(net, {k: donors[k].split for k in spec.donor_keys}, fit_x[:probe_images])
    fitted_score = naswot(net, fit_x, n_batches=5, batch_size=32, seed=seed) if with_naswot else None
    fit_feats = _finite(pooled_features(net, fit_x), chain, "fit")
    val_feats = _finite(pooled_features(net, val_x), chain, "validation")
    head = fit_head_on_features(net.head, fit_feats, fit_y, (val_feats, val_y), RIDGES)
    assert head.validation_accuracy is not None
    return Evaluation(
        chain=tuple(chain),
        net=net,
        params=count_params(net),
        flops=count_flops(net, fit_x[:1]),
        ridge=head.ridge,
        fit_accuracy=head.fit_accuracy,
        validation_accuracy=head.validation_accuracy,
        logme=logme(fit_feats.cpu().numpy(), fit_y.cpu().numpy()),
        naswot_init=init_score,
        naswot_fitted=fitted_score,
    )


def describe_blocks(chain: Sequence[BlockRef], donors: Mapping[str, Donor]) -> list[dict[str, Any]]:
    out = []
    for b in chain:
        nodes = donors[b.model].dissection.nodes
        out.append(
            {"model_id": b.model, "model_name": donors[b.model].name, "first_node": b.first,
             "last_node": b.last, "first_path": nodes[b.first].path, "last_path": nodes[b.last].path}
        )  # fmt: skip
    return out


def evaluation_record(ev: Evaluation, donors: Mapping[str, Donor]) -> dict[str, Any]:
    """The JSON form of a built and scored network (a finalist or a zoo model)."""
    return {
        "blocks": describe_blocks(ev.chain, donors),
        "donors": ev.donors,
        "built_params": ev.params,
        "built_flops": ev.flops,
        "proxy_scores": ev.scores(),
        "head_ridge": ev.ridge,
        "fit_accuracy": ev.fit_accuracy,
        "closed_form_validation_accuracy": ev.validation_accuracy,
        "validation_accuracy": ev.final_validation_accuracy(),
        "heldout_accuracy": ev.heldout_accuracy,
        "training": ev.history,
        "stitches": stitch_records(ev.net),
    }
