"""NASWOT: correctness of the kernel, hygiene (hooks, caller's net), determinism, degenerate cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from timm.layers.activations import GELU as TimmGELU
from torch import nn

from core.errors import InvalidInput
from core.proxy import activation_kernel, activation_modules, naswot, sample_batches

SUBSET = Path(__file__).resolve().parents[2] / "data" / "fashion_subset.npz"


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    """256 real Fashion-MNIST images from the bundled subset, 1×28×28, normalised."""
    data = np.load(SUBSET)
    x = torch.from_numpy(data["images"][:256]).float().div(255.0).unsqueeze(1)
    return (x - 0.286) / 0.353


def small_cnn() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(inplace=True),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )


def hook_count(net: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in net.modules())


def test_kernel_matches_the_definition(images: torch.Tensor) -> None:
    """For a lone ReLU the codes are the input's signs; K must equal c·cᵀ + (1−c)(1−c)ᵀ."""
    batch = images[:32]
    kernel, calls = activation_kernel(nn.Sequential(nn.ReLU()), batch)
    c = (batch.reshape(32, -1) > 0).double()
    expected = c @ c.T + (1 - c) @ (1 - c).T
    assert calls == 1
    assert torch.equal(kernel, expected)
    score = naswot(nn.Sequential(nn.ReLU()), [batch])
    assert score.finite and score.value == pytest.approx(float(np.linalg.slogdet(expected.numpy())[1]))


def test_kernel_sums_over_every_activation_call(images: torch.Tensor) -> None:
    relu = nn.ReLU()
    net = nn.Sequential(relu, nn.Identity(), relu)  # the same module called twice
    kernel, calls = activation_kernel(net, images[:8])
    single, _ = activation_kernel(nn.Sequential(nn.ReLU()), images[:8])
    assert calls == 2 and torch.equal(kernel, 2 * single)


def test_hooks_are_gone_and_callers_net_is_untouched(images: torch.Tensor) -> None:
    net = small_cnn()
    net.train()
    net[1].eval()  # a mixed state must come back exactly as it was
    before_state = {k: v.clone() for k, v in net.state_dict().items()}
    before_flags = [m.training for m in net.modules()]
    before_hooks = hook_count(net)
    naswot(net, images, seed=3)
    assert hook_count(net) == before_hooks == 0
    assert [m.training for m in net.modules()] == before_flags
    after = net.state_dict()
    assert before_state.keys() == after.keys()
    assert all(torch.equal(before_state[k], after[k]) for k in after)  # BN running stats included


def test_hooks_are_removed_when_the_forward_fails(images: torch.Tensor) -> None:
    net = small_cnn()
    with pytest.raises(RuntimeError):
        activation_kernel(net, torch.randn(4, 3, 28, 28))  # wrong channel count
    assert hook_count(net) == 0


def test_same_seed_same_score_and_scoring_twice_agrees(images: torch.Tensor) -> None:
    net = small_cnn()
    first = naswot(net, images, seed=11)
    again = naswot(net, images, seed=11)
    other = naswot(net, images, seed=12)
    assert first.finite and first.flag is None and len(first.per_batch) == 5
    assert first.value == again.value and first.per_batch == again.per_batch
    assert first.per_batch != other.per_batch  # a different seed draws different batches
    assert first.value == pytest.approx(sum(first.per_batch) / 5)


def test_dropout_is_off_and_bn_uses_batch_statistics(images: torch.Tensor) -> None:
    """Dropout in train mode would make the score random; BN must use batch statistics, so a net
    whose running stats are garbage scores the same as a fresh one."""
    net = small_cnn()
    fresh = naswot(net, images, seed=0).value
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d) and m.running_mean is not None and m.running_var is not None:
                m.running_mean.fill_(1e3)
                m.running_var.fill_(1e-3)
    assert naswot(net, images, seed=0).value == pytest.approx(fresh, rel=1e-12)


def test_identical_codes_give_a_flag_not_a_crash(images: torch.Tensor) -> None:
    conv = nn.Conv2d(1, 4, 3, bias=False)
    nn.init.zeros_(conv.weight)
    net = nn.Sequential(conv, nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    score = naswot(net, images, seed=0)
    assert not score.finite
    assert score.value == float("-inf")
    assert score.flag is not None and score.flag.startswith("singular_kernel")
    assert score.to_dict()["value"] is None  # JSON-safe


def test_a_net_without_activation_modules_is_flagged(images: torch.Tensor) -> None:
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    score = naswot(net, images)
    assert not score.finite and score.flag is not None and score.flag.startswith("no_activation_modules")


def test_timm_activation_classes_are_hooked() -> None:
    net = nn.Sequential(nn.Linear(4, 4), TimmGELU(), nn.SiLU(), nn.Hardswish(), nn.ReLU6(), nn.Sigmoid())
    assert [type(m) for m in activation_modules(net)] == [TimmGELU, nn.SiLU, nn.Hardswish, nn.ReLU6]


def test_sample_batches_are_seeded_shuffled_and_disjoint() -> None:
    pool = torch.arange(200).float().reshape(200, 1)
    a = sample_batches(pool, 5, 32, seed=4)
    b = sample_batches(pool, 5, 32, seed=4)
    assert len(a) == 5 and all(x.shape == (32, 1) for x in a)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    drawn = torch.cat(a).flatten().tolist()
    assert len(set(drawn)) == 160  # disjoint
    assert drawn[:32] != list(range(32))  # shuffled, not the first images
    with pytest.raises(InvalidInput, match="at least batch_size=32"):
        sample_batches(pool[:10], 5, 32)
    small = sample_batches(pool[:40], 5, 32, seed=1)  # fewer than 5×32: batches may overlap
    assert all(len(set(x.flatten().tolist())) == 32 for x in small)


def test_a_timm_network_scores_finite_and_stays_clean(images: torch.Tensor) -> None:
    import timm

    net = timm.create_model("test_resnet", pretrained=False, in_chans=1, num_classes=10)
    x = nn.functional.interpolate(images[:64], size=32, mode="bilinear")
    before = {k: v.clone() for k, v in net.state_dict().items()}
    score = naswot(net, x, n_batches=2, batch_size=16, seed=0)
    assert score.finite and len(score.per_batch) == 2
    assert hook_count(net) == 0
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
