"""The channel graph: concatenations split demands back to their branches by offset, residual
additions tie their operands and output to one set of physical channels, consumers OR their
demands on a shared tensor, and pruning with every channel kept changes nothing."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from core.mda.graph import Step, build_channel_graph, propagate, trace
from core.mda.locate import Location
from core.mda.prune import prune


class Branchy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(1, 2, 1)
        self.b = nn.Conv2d(1, 3, 1)
        self.c = nn.Conv2d(5, 4, 1)
        self.bn = nn.BatchNorm2d(4)
        self.d = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.cat([self.a(x), self.b(x)], 1)
        z = self.bn(self.c(y))
        z = z + self.d(z)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(F.relu(z), 1), 1))


def graph_of(model: nn.Module):  # type: ignore[no-untyped-def]
    return build_channel_graph(trace(model.eval(), torch.randn(2, 1, 6, 6)))


def node(graph, name: str):  # type: ignore[no-untyped-def]
    return next(n for n in graph.ids if n.name == name)


def test_concat_channels_are_their_branches_channels() -> None:
    g = graph_of(Branchy())
    assert g.roots(node(g, "cat")) == g.roots(node(g, "a")) + g.roots(node(g, "b"))


def test_residual_operands_and_output_are_one_set_of_channels() -> None:
    g = graph_of(Branchy())
    bn, d, add = g.roots(node(g, "bn")), g.roots(node(g, "d")), g.roots(node(g, "add"))
    assert bn == d == add == g.roots(node(g, "c"))
    assert g.roots(node(g, "flatten")) == add  # global pool + flatten keep channel identity
    assert not g.fixed & set(add)
    assert set(g.roots(node(g, "x"))) <= g.fixed  # the image is never pruned


def test_demands_split_at_concat_and_or_over_consumers() -> None:
    g = graph_of(Branchy())
    rules = {
        "fc": torch.tensor([[True, False, False, False]]),
        "d": torch.tensor([[False, True, False, False]]),
        "c": torch.tensor([[True, False, False, True, False]]),
    }

    def rule(step: Step, out: torch.Tensor) -> torch.Tensor:
        return rules.get(str(step.node.target), torch.zeros(1, len(g.ids[step.inputs[0]]), dtype=torch.bool))

    start = torch.tensor([[False, True, False]])
    demand = propagate(g, start, rule)
    # bn's output feeds the add (gets fc's demand) and d (gets d's demand): OR of both
    assert demand[node(g, "bn")].tolist() == [[True, True, False, False]]
    assert demand[node(g, "d")].tolist() == [[True, False, False, False]]
    assert demand[node(g, "a")].tolist() == [[True, False]]
    assert demand[node(g, "b")].tolist() == [[False, True, False]]


def test_pruning_that_keeps_every_channel_is_exact_and_orders_logits() -> None:
    torch.manual_seed(0)
    model = Branchy().eval()
    g = graph_of(model)
    logits = g.roots(g.output)
    keep = {g.uf.find(i) for ids in g.ids.values() for i in ids} - {logits[1]}
    pruned, shapes = prune(model, Location(g, {}, keep, {logits[2]: 0, logits[0]: 1}))
    x = torch.randn(4, 1, 6, 6)
    assert torch.allclose(pruned(x), model(x)[:, [2, 0]], atol=1e-6)
    assert shapes["fc"]["out_features"] == 2 and shapes["c"]["in_channels"] == 5


def test_pruning_a_residual_channel_removes_it_everywhere() -> None:
    model = Branchy().eval()
    g = graph_of(model)
    drop = g.roots(node(g, "add"))[1]
    keep = {g.uf.find(i) for ids in g.ids.values() for i in ids} - {drop}
    pruned, shapes = prune(model, Location(g, {}, keep, {}))
    assert shapes["c"]["out_channels"] == shapes["bn"]["num_features"] == 3
    assert shapes["d"]["in_channels"] == shapes["d"]["out_channels"] == shapes["fc"]["in_features"] == 3
    assert pruned(torch.randn(2, 1, 6, 6)).shape == (2, 3)


def test_on_a_chain_the_graph_demands_equal_the_official_chain_recursion() -> None:
    """On a plain chain (VGG-style, with an MLP head) the tensor-graph recursion must give exactly
    the masks of the official code's reversed-module-list recursion."""
    import timm

    import core.zoo  # noqa: F401  (registers vgg_mda)
    from core.mda.contrib import mm_norm
    from core.mda.locate import Thresholds, accumulate_contributions, locate

    torch.manual_seed(0)
    model = timm.create_model("vgg_mda", num_classes=4).eval()
    x = torch.randn(24, 1, 32, 32)
    positions = torch.arange(24) % 2
    classes = [3, 1]
    loc = locate(model, x, positions, classes, Thresholds())
    sums = accumulate_contributions(model, loc.graph, x, positions, 2)
    layers = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))][::-1]
    mask = torch.zeros(2, 4)
    mask[torch.arange(2), torch.tensor(classes)] = 1
    for name in layers:
        alpha, beta = Thresholds().of(model.get_submodule(name))
        hard = (mm_norm(sums[name]) > alpha).float()
        mask = (mm_norm(torch.einsum("co,coi->ci", mask, hard)) > beta).float()
        step = next(s for s in loc.graph.steps if str(s.node.target) == name)
        assert torch.equal(loc.demand[step.inputs[0]].float(), mask), name
