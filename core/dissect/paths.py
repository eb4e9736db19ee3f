"""Node paths: how a node names the module(s) it is made of.

A node is usually one module, named by its dotted path (``layer3.4``, ``blocks.7``). In a flat
``nn.Sequential`` of single layers (a VGG ``features`` list) a node is a run of consecutive children,
written ``features[4:8]`` with Python slice semantics (children 4, 5, 6 and 7).
"""

from __future__ import annotations

import re

from torch import nn

from core.errors import InvalidInput

_RANGE = re.compile(r"^(?P<parent>.*)\[(?P<start>\d+):(?P<stop>\d+)\]$")


def range_path(parent: str, start: int, stop: int) -> str:
    """The path of children ``start .. stop-1`` of the container at ``parent``."""
    return f"{parent}[{start}:{stop}]"


def member_paths(model: nn.Module, path: str) -> tuple[str, ...]:
    """The module paths a node path stands for, in execution order."""
    match = _RANGE.match(path)
    if match is None:
        _get(model, path)
        return (path,)
    parent, start, stop = match["parent"], int(match["start"]), int(match["stop"])
    names = [name for name, _ in _get(model, parent).named_children()]
    if not 0 <= start < stop <= len(names):
        raise InvalidInput(
            f"node path {path!r} selects children {start}..{stop - 1} but {parent!r} has {len(names)}",
            details={"path": path},
        )
    prefix = f"{parent}." if parent else ""
    return tuple(prefix + name for name in names[start:stop])


def node_module(model: nn.Module, path: str) -> nn.Module:
    """The runnable module of one node: the module itself, or an ``nn.Sequential`` sharing the
    members of a range node."""
    members = member_paths(model, path)
    if len(members) == 1:
        return _get(model, members[0])
    return nn.Sequential(*(_get(model, m) for m in members))


def _get(model: nn.Module, path: str) -> nn.Module:
    try:
        return model.get_submodule(path)
    except AttributeError as exc:
        raise InvalidInput(
            f"the model has no module {path!r}; was the dissection made for another architecture?",
            details={"path": path},
        ) from exc
