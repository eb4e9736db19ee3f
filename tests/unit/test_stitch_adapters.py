"""Stitching layers on their own: every transition builds, runs forward and backward, costs exactly
what ``stitch_cost`` says, is deterministic, and its least-squares fit recovers a known map."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.dissect.types import NodeKind, NodeSpec
from core.errors import InvalidInput
from core.flops import count_flops, count_params
from core.stitch import Endpoint, Stitch, build_stitch, fit_stitch, image_node, stitch_cost, stitch_supported


def node(kind: NodeKind, shape: tuple[int, ...], prefix: int = 0) -> NodeSpec:
    """A node whose input and output share one layout (enough to stand on either side of a stitch)."""
    return NodeSpec(0, "n", kind, kind, prefix, shape, shape, 0, 0)


# (name, src node, dst node, expected transition, expected plan facts)
CASES = [
    (
        "map_down_patchconv",
        node("map_nchw", (8, 16, 16)),
        node("map_nchw", (12, 8, 8)),
        "map->map",
        "conv k=2",
    ),
    ("map_down_ratio4", node("map_nchw", (16, 16, 16)), node("map_nchw", (24, 4, 4)), "map->map", "conv k=4"),
    (
        "map_down_wide_pool",
        node("map_nchw", (512, 8, 8)),
        node("map_nchw", (16, 2, 2)),
        "map->map",
        "pre=avgpool",
    ),
    ("map_up", node("map_nchw", (8, 4, 4)), node("map_nchw", (12, 16, 16)), "map->map", "post=nearest"),
    ("map_same", node("map_nchw", (8, 8, 8)), node("map_nchw", (5, 8, 8)), "map->map", "conv k=1"),
    (
        "map_down_nonint",
        node("map_nchw", (8, 9, 9)),
        node("map_nchw", (12, 6, 6)),
        "map->map",
        "pre=adaptive_avg",
    ),
    ("map_up_nonint", node("map_nchw", (8, 6, 6)), node("map_nchw", (12, 9, 9)), "map->map", "post=bilinear"),
    (
        "map_to_tokens_cls",
        node("map_nchw", (8, 16, 16)),
        node("tokens", (17, 24), 1),
        "map->tokens",
        "conv k=4",
    ),
    ("map_to_tokens_nocls", node("map_nchw", (8, 4, 4)), node("tokens", (16, 24)), "map->tokens", "conv k=1"),
    ("tokens_same", node("tokens", (17, 24), 1), node("tokens", (17, 32), 1), "tokens->tokens", "linear"),
    ("tokens_down", node("tokens", (17, 24), 1), node("tokens", (5, 32), 1), "tokens->tokens", "pre=avgpool"),
    (
        "tokens_up_more_prefix",
        node("tokens", (16, 24)),
        node("tokens", (66, 32), 2),
        "tokens->tokens",
        "nearest",
    ),
    (
        "tokens_fewer_prefix",
        node("tokens", (18, 24), 2),
        node("tokens", (17, 16), 1),
        "tokens->tokens",
        "linear",
    ),
    (
        "tokens_nonsquare_same",
        node("tokens", (13, 24), 1),
        node("tokens", (13, 8), 1),
        "tokens->tokens",
        "linear",
    ),
    (
        "tokens_to_map",
        node("tokens", (17, 24), 1),
        node("map_nchw", (8, 8, 8)),
        "tokens->map",
        "post=nearest",
    ),
    ("nhwc_down", node("map_nhwc", (8, 8, 16)), node("map_nhwc", (4, 4, 32)), "map->map", "conv k=2"),
    ("nhwc_to_nchw", node("map_nhwc", (8, 8, 16)), node("map_nchw", (32, 8, 8)), "map->map", "conv k=1"),
    (
        "nchw_to_nhwc_up",
        node("map_nchw", (16, 4, 4)),
        node("map_nhwc", (8, 8, 24)),
        "map->map",
        "post=nearest",
    ),
    ("nhwc_to_tokens", node("map_nhwc", (8, 8, 16)), node("tokens", (17, 24), 1), "map->tokens", "conv k=2"),
    ("tokens_to_nhwc", node("tokens", (17, 24), 1), node("map_nhwc", (4, 4, 16)), "tokens->map", "conv k=1"),
    ("image_stem_patchify", image_node((3, 32, 32)), node("tokens", (17, 24), 1), "map->tokens", "conv k=8"),
]


@pytest.mark.parametrize(("name", "src", "dst", "transition", "fact"), CASES, ids=[c[0] for c in CASES])
def test_transition_builds_runs_and_costs_what_stitch_cost_says(
    name: str, src: NodeSpec, dst: NodeSpec, transition: str, fact: str
) -> None:
    assert stitch_supported(src, dst)
    stitch = build_stitch(src, dst)
    assert stitch.plan.transition == transition
    assert fact in stitch.extra_repr()

    x = torch.randn(3, *src.out_shape, requires_grad=True)
    y = stitch(x)
    assert tuple(y.shape) == (3, *dst.in_shape)
    y.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in stitch.parameters())

    cost = stitch_cost(src, dst)
    assert count_params(stitch) == cost.params
    measured = count_flops(stitch, torch.randn(1, *src.out_shape))
    assert abs(measured - cost.flops) <= 0.005 * cost.flops


@pytest.mark.parametrize(("name", "src", "dst", "transition", "fact"), CASES, ids=[c[0] for c in CASES])
def test_least_squares_recovers_a_stitch_of_the_same_structure(
    name: str, src: NodeSpec, dst: NodeSpec, transition: str, fact: str
) -> None:
    """Targets made by a seeded stitch of the same plan are reachable, so the fit must find them."""
    torch.manual_seed(0)
    teacher = Stitch.between(src, dst, seed=123)
    if teacher.prefix is not None:  # a learned class token is a constant: give it a non-trivial value
        with torch.no_grad():
            teacher.prefix.normal_()
    fan_in = teacher.plan.c_in * teacher.plan.kernel**2
    n_img = max(48, 2 * fan_in // teacher.plan.core_positions + 2)  # more rows than unknowns
    feats = torch.randn(n_img, *src.out_shape)
    with torch.no_grad():
        target = teacher(feats)
    student = build_stitch(src, dst)
    residual = fit_stitch(student, feats, target, ridge=1e-8)
    assert residual < 1e-4
    assert student.fit_residual == residual
    # and it generalises to fresh inputs: the map itself was recovered, not just the probe outputs
    fresh = torch.randn(8, *src.out_shape)
    with torch.no_grad():
        rel = (student(fresh) - teacher(fresh)).norm() / teacher(fresh).norm()
    assert rel < 1e-3


def test_identity_is_expressible_and_found_for_equal_endpoints() -> None:
    for src in (node("map_nchw", (6, 5, 5)), node("tokens", (10, 6), 1), node("map_nhwc", (4, 4, 6))):
        feats = torch.randn(32, *src.out_shape)
        stitch = build_stitch(src, src)
        assert fit_stitch(stitch, feats, feats, ridge=0.0) < 1e-6
        weight, bias = stitch.affine()
        assert torch.allclose(weight.detach(), torch.eye(stitch.plan.c_in), atol=1e-4)
        assert bias.detach().abs().max() < 1e-4


def test_building_twice_gives_bit_identical_weights_and_seed_changes_them() -> None:
    for _, src, dst, _, _ in CASES:
        a, b = build_stitch(src, dst), build_stitch(src, dst)
        for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
            assert ka == kb and torch.equal(va, vb)
        c = build_stitch(src, dst, seed=1)
        assert not torch.equal(a.affine()[0], c.affine()[0])


def test_least_squares_fit_is_deterministic() -> None:
    src, dst = node("map_nchw", (8, 16, 16)), node("tokens", (17, 24), 1)
    feats, target = torch.randn(40, 8, 16, 16), torch.randn(40, 17, 24)
    a, b = build_stitch(src, dst), build_stitch(src, dst)
    assert fit_stitch(a, feats, target) == fit_stitch(b, feats, target)
    for va, vb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb)


def test_nonsquare_tokens_to_map_is_unsupported_and_refused_at_build_time() -> None:
    src, dst = node("tokens", (13, 24), 1), node("map_nchw", (8, 4, 4))  # 12 patches: no square grid
    assert not stitch_supported(src, dst)
    with pytest.raises(InvalidInput, match="not a square grid"):
        build_stitch(src, dst)
    with pytest.raises(InvalidInput, match="not a square grid"):
        stitch_cost(src, dst)
    # a non-square token count can still go to tokens with the same patch count, not to another grid
    assert stitch_supported(src, node("tokens", (12, 8)))
    assert not stitch_supported(src, node("tokens", (17, 8), 1))
    assert not stitch_supported(node("map_nchw", (8, 4, 4)), node("tokens", (11, 8), 1))


def test_fit_rejects_mismatched_batches() -> None:
    stitch = build_stitch(node("map_nchw", (8, 4, 4)), node("map_nchw", (8, 4, 4)))
    with pytest.raises(InvalidInput, match="stitch expects"):
        fit_stitch(stitch, torch.randn(4, 8, 5, 5), torch.randn(4, 8, 4, 4))
    with pytest.raises(InvalidInput, match="same >= 2 probe images"):
        fit_stitch(stitch, torch.randn(4, 8, 4, 4), torch.randn(3, 8, 4, 4))


def test_bad_endpoint_is_refused() -> None:
    with pytest.raises(InvalidInput, match="needs 3 positive dims"):
        Endpoint("map_nchw", (8, 4))
    with pytest.raises(InvalidInput, match="prefix tokens"):
        Endpoint("tokens", (4, 8), 4)


def test_costing_needs_no_torch() -> None:
    """The API and the search cost stitches from shapes; that must not pull torch in."""
    code = (
        "import sys; from core.stitch import stitch_cost, stitch_supported, image_node, head_cost; "
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))[:5]"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
