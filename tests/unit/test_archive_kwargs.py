"""An archive's spec or manifest is data from outside: its model kwargs pass the request allowlist."""

from __future__ import annotations

import pytest

from core.errors import InvalidInput
from core.mda.checkpoint import build_base
from core.mda.spec import BaseArch


@pytest.mark.parametrize("source", ["timm", "torchvision"])
def test_a_component_spec_cannot_name_a_file_or_url(source: str) -> None:
    arch = "resnet18"
    for kwargs in (
        {"checkpoint_path": "/etc/passwd"},
        {"pretrained_cfg_overlay": {"url": "http://127.0.0.1:9/x"}},
    ):
        with pytest.raises(InvalidInput, match="model_kwargs"):
            build_base(BaseArch(arch, kwargs, source))
    assert sum(p.numel() for p in build_base(BaseArch(arch, {"num_classes": 3}, source)).parameters()) > 0
