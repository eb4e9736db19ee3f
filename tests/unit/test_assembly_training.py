"""FZ training moves only stitches and head; FT moves the blocks too; the best validation epoch,
the starting point included, is what remains."""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch

from core.assembly.training import train_network
from core.dissect import dissect, split
from core.metrics import accuracy
from core.stitch import AssemblySpec, BlockRef, DonorModel, ReassembledNet


def _net() -> ReassembledNet:
    torch.manual_seed(0)
    a = timm.create_model("test_resnet", num_classes=4).eval()
    b = timm.create_model("test_convnext", num_classes=4).eval()
    size = (3, 32, 32)
    da, db = dissect(a, size), dissect(b, size)
    spec = AssemblySpec(
        blocks=(BlockRef("a", 0, 1), BlockRef("b", 2, len(db.nodes) - 1)),
        donors=(DonorModel("a", "test_resnet", size), DonorModel("b", "test_convnext", size)),
        num_classes=4,
    )
    return ReassembledNet(spec, {"a": split(a, da), "b": split(b, db)}, {"a": da, "b": db})


@pytest.mark.parametrize("mode", ["frozen", "finetune"])
def test_training_moves_what_the_mode_allows(mode: str) -> None:
    net = _net()
    blocks_before = [p.detach().clone() for p in net.blocks.parameters()]
    stitches_before = [p.detach().clone() for p in net.stitches.parameters()]
    gen = torch.Generator().manual_seed(1)
    images, labels = torch.randn(48, 3, 32, 32, generator=gen), torch.randint(0, 4, (48,), generator=gen)
    held = (torch.randn(16, 3, 32, 32, generator=gen), np.arange(16) % 4)
    history = train_network(net, images, labels, held, mode=mode, epochs=2, lr=1e-2, batch_size=16)  # type: ignore[arg-type]
    assert [h["epoch"] for h in history] == [0, 1, 2] and all(np.isfinite(h["loss"]) for h in history[1:])
    assert sum(h["kept"] for h in history) == 1
    blocks_same = all(torch.equal(a, b) for a, b in zip(blocks_before, net.blocks.parameters(), strict=True))
    stitches_same = all(
        torch.equal(a, b) for a, b in zip(stitches_before, net.stitches.parameters(), strict=True)
    )
    assert not stitches_same
    assert blocks_same == (mode == "frozen")
    assert not net.training


def test_training_never_ends_below_its_start() -> None:
    """A learning rate that wrecks the network: the starting weights are restored, exactly."""
    net = _net()
    gen = torch.Generator().manual_seed(2)
    images, labels = torch.randn(64, 3, 32, 32, generator=gen), torch.randint(0, 4, (64,), generator=gen)
    validation = (images[:32], labels[:32].numpy())
    start = {k: v.clone() for k, v in net.state_dict().items()}
    start_acc = accuracy(net, *validation)
    history = train_network(net, images, labels, validation, mode="finetune", epochs=2, lr=1e3, batch_size=16)
    kept = [h for h in history if h["kept"]][0]
    assert kept["validation_accuracy"] == max(h["validation_accuracy"] for h in history) >= start_acc
    assert accuracy(net, *validation) == kept["validation_accuracy"]
    if kept["epoch"] == 0:
        assert all(torch.equal(v, net.state_dict()[k]) for k, v in start.items())
