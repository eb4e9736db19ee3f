"""Global pooling of a node's output into one feature vector per image.

Maps (NCHW or NHWC) are averaged over their spatial positions. Token sequences are averaged over
their *patch* tokens only: the ``num_prefix_tokens`` class/distillation tokens in front are left
out. At the stem output those tokens are learned constants plus a position embedding, so including
them would add a near-constant direction to every image's vector (DeRy's code averaged all tokens;
we do not). Pooling makes nodes of any width, resolution or token count comparable by CKA.
"""

from __future__ import annotations

import torch

from core.dissect.types import NodeKind
from core.errors import InvalidInput


def pool_features(x: torch.Tensor, kind: NodeKind | str, num_prefix_tokens: int = 0) -> torch.Tensor:
    """(B, ...) node output in layout ``kind`` → (B, C) pooled features (same dtype)."""
    if not isinstance(x, torch.Tensor):
        raise InvalidInput(f"a node output must be a tensor to be pooled, got {type(x).__name__}")
    if kind == "map_nchw":
        _expect_ndim(x, 4, kind)
        return x.mean(dim=(2, 3))
    if kind == "map_nhwc":
        _expect_ndim(x, 4, kind)
        return x.mean(dim=(1, 2))
    if kind == "tokens":
        _expect_ndim(x, 3, kind)
        if num_prefix_tokens < 0 or num_prefix_tokens >= x.shape[1]:
            raise InvalidInput(
                f"token output of shape {tuple(x.shape)} has no patch tokens after "
                f"{num_prefix_tokens} prefix tokens; check the node's num_prefix_tokens"
            )
        return x[:, num_prefix_tokens:].mean(dim=1)
    raise InvalidInput(f"unknown node kind {kind!r}; expected 'map_nchw', 'map_nhwc' or 'tokens'")


def _expect_ndim(x: torch.Tensor, ndim: int, kind: str) -> None:
    if x.ndim != ndim:
        raise InvalidInput(
            f"a {kind!r} node output must have {ndim} dimensions (batch first), got shape {tuple(x.shape)}"
        )
