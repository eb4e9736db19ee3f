"""Every proxy of one candidate network, with params and FLOPs beside them as baselines (zero-cost
proxies often fail to beat a plain parameter count, so the count is always reported)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from core.flops import count_flops, count_params
from core.progress import Progress, no_progress, scaled
from core.proxy.features import pooled_features
from core.proxy.logme import logme
from core.proxy.naswot import naswot
from core.proxy.types import ProxyScore


@dataclass(frozen=True)
class CandidateScores:
    naswot: ProxyScore
    logme: float | None  # None when no labels were given
    params: int
    flops: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "naswot": self.naswot.to_dict(),
            "logme": self.logme,
            "params": self.params,
            "flops": self.flops,
        }


def score_candidate(
    net: nn.Module,
    images: Tensor,
    labels: Tensor | None = None,
    *,
    n_batches: int = 5,
    batch_size: int = 32,
    seed: int = 0,
    progress: Progress | None = None,
) -> CandidateScores:
    """NASWOT on seeded batches of ``images`` (N, C, H, W), LogME on the pooled features of all
    ``images`` against ``labels`` (when given), and the network's params and FLOPs at that input size."""
    report = progress or no_progress
    score = naswot(
        net, images, n_batches=n_batches, batch_size=batch_size, seed=seed, progress=scaled(report, 0.0, 0.6)
    )
    transfer = None
    if labels is not None:
        feats = pooled_features(net, images)
        transfer = logme(feats.numpy(), labels.cpu().numpy())
    report(0.9, "counting params and FLOPs")
    device = next((p.device for p in net.parameters()), torch.device("cpu"))
    flops = count_flops(net, images[:1].to(device))
    report(1.0, "scored")
    return CandidateScores(naswot=score, logme=transfer, params=count_params(net), flops=flops)
