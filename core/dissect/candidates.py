"""Candidate atomic nodes of a model, before the trace verifies them.

Two sources, as DESIGN.md §6 says:

* timm's ``group_matcher(coarse=False)``: its regexes sort every parameter into a stem group, block
  groups (``layer3.4``, ``blocks.7``, ``stages.2.downsample``) and trailing groups (``(99999,)``
  suffix: ``norm``, ``conv_head`` — merged into the previous group by timm, post-trunk for us when
  they run after the last block). A block group's node is the deepest module holding all its
  parameters. Groups are told apart by (regex, captures), not by timm's ordinal, because timm lets
  e.g. ``stages.1.downsample`` and ``stages.1.blocks.0`` share an ordinal.
* module containers (``nn.Sequential`` / ``nn.ModuleList``) when there is no matcher, and to expand
  a matched container of blocks into its blocks.

In a container, a node starts at each "heavy" child (a composite module, or a layer with a weight of
rank ≥ 2 such as a conv or linear); light children after it (norm, activation, pooling, dropout)
belong to it. So timm's flat VGG ``features`` becomes conv-bn-relu(-pool) nodes ``features[4:8]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from torch import nn

from core.dissect.paths import range_path

Role = Literal["stem", "block", "post", "other"]
_PREV_GROUP = 99999.0


@dataclass(frozen=True)
class Candidate:
    path: str  # node path (see core.dissect.paths)
    role: Role  # "block" and "post" may become nodes; "stem"/"other" never do
    order: tuple[float, ...]  # static order hint; the trace's call order decides


def find_candidates(model: nn.Module) -> tuple[list[Candidate], str]:
    """Candidates and the name of the source used (``group_matcher`` or ``containers``)."""
    matcher = _fine_group_matcher(model)
    if matcher is not None:
        found = _from_group_matcher(model, matcher)
        if any(c.role == "block" for c in found):
            return found, "group_matcher"
    return _from_containers(model), "containers"


def _fine_group_matcher(model: nn.Module) -> list[tuple[re.Pattern[str], int, str, tuple[float, ...]]] | None:
    get = getattr(model, "group_matcher", None)
    if not callable(get):
        return None
    try:
        spec = get(coarse=False)
    except Exception:  # a model whose matcher is broken just falls back to containers
        return None
    if not isinstance(spec, dict):
        return None
    compiled: list[tuple[re.Pattern[str], int, str, tuple[float, ...]]] = []
    for ordinal, (name, mspec) in enumerate(spec.items()):
        if mspec is None:
            continue
        entries = mspec if isinstance(mspec, list | tuple) else [(mspec, None)]
        for entry in entries:
            regex, suffix = entry[0], entry[1]
            compiled.append((re.compile(regex), ordinal, str(name), tuple(float(s) for s in suffix or ())))
    return compiled


def _from_group_matcher(
    model: nn.Module, matcher: list[tuple[re.Pattern[str], int, str, tuple[float, ...]]]
) -> list[Candidate]:
    owners: dict[tuple[Any, ...], list[str]] = {}
    roles: dict[tuple[Any, ...], Role] = {}
    orders: dict[tuple[Any, ...], tuple[float, ...]] = {}
    owner_role: dict[str, Role] = {}
    for name, _ in model.named_parameters():
        owner = name.rpartition(".")[0]
        key: tuple[Any, ...] = ("unmatched",)
        role: Role = "other"
        order: tuple[float, ...] = (float("inf"),)
        for index, (regex, ordinal, group, suffix) in enumerate(matcher):
            hit = regex.match(name)
            if hit is None:
                continue
            captures = tuple(float(g) for g in hit.groups() if g is not None)
            key = (index, captures)
            order = (float(ordinal), *captures, *suffix)
            role = "stem" if group == "stem" else "post" if _PREV_GROUP in suffix else "block"
            break
        owners.setdefault(key, []).append(owner)
        roles[key] = role
        orders[key] = order
        owner_role.setdefault(owner, role)

    found: list[Candidate] = []
    flat_parents: dict[str, tuple[float, ...]] = {}
    for key, paths in owners.items():
        role = roles[key]
        if role not in ("block", "post"):
            continue
        path = _common_prefix(paths)
        if not path:
            continue
        module = model.get_submodule(path)
        parent_path = path.rpartition(".")[0]
        parent = model.get_submodule(parent_path) if "." in path else model
        if _is_block_container(module):
            found += _units(model, path, role_of=_always(role), order=orders[key])
        elif not _children(module) and isinstance(parent, nn.Sequential) and parent is not model:
            flat_parents.setdefault(parent_path, orders[key])
        else:
            found.append(Candidate(path, role, orders[key]))
    for parent_path, order in flat_parents.items():
        found += _units(model, parent_path, role_of=lambda p: _role_under(owner_role, p), order=order)
    return sorted(_drop_ancestors(found), key=lambda c: c.order)


def _from_containers(model: nn.Module) -> list[Candidate]:
    found: list[Candidate] = []

    def visit(module: nn.Module, path: str) -> None:
        for name, child in module.named_children():
            child_path = f"{path}.{name}" if path else name
            if _is_container(child):
                found.extend(_units(model, child_path, role_of=_always("block"), order=(float(len(found)),)))
            else:
                visit(child, child_path)

    visit(model, "")
    return found


def _units(
    model: nn.Module, parent_path: str, *, role_of: Callable[[str], Role], order: tuple[float, ...]
) -> list[Candidate]:
    """Split the children of a container into nodes that start at each heavy child; a heavy child
    that is itself a container of modules is expanded recursively (stages of blocks)."""
    parent = model.get_submodule(parent_path)
    children = list(parent.named_children())
    starts = [i for i, (_, child) in enumerate(children) if _is_heavy(child)]
    if not starts:
        return []
    bounds = [*starts, len(children)]
    out: list[Candidate] = []
    for k, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        name, child = children[start]
        child_path = f"{parent_path}.{name}" if parent_path else name
        sub_order = (*order, float(k))
        if stop - start == 1 and _is_block_container(child):
            out += _units(model, child_path, role_of=role_of, order=sub_order)
            continue
        path = child_path if stop - start == 1 else range_path(parent_path, start, stop)
        out.append(Candidate(path, role_of(child_path), sub_order))
    return out


def _always(role: Role) -> Callable[[str], Role]:
    return lambda _path: role


def _role_under(owner_role: dict[str, Role], path: str) -> Role:
    for owner, role in owner_role.items():
        if owner == path or owner.startswith(path + "."):
            return role
    return "other"


def _drop_ancestors(found: list[Candidate]) -> list[Candidate]:
    """A candidate that contains another is too coarse: keep the finer ones."""
    paths = [c.path for c in found]
    return [c for c in found if not any(p != c.path and p.startswith(c.path + ".") for p in paths)]


def _common_prefix(paths: list[str]) -> str:
    split = [p.split(".") if p else [] for p in paths]
    prefix: list[str] = []
    for parts in zip(*split, strict=False):
        if all(part == parts[0] for part in parts):
            prefix.append(parts[0])
        else:
            break
    return ".".join(prefix)


def _children(module: nn.Module) -> list[nn.Module]:
    return list(module.children())


def _is_container(module: nn.Module) -> bool:
    return isinstance(module, nn.Sequential | nn.ModuleList) and len(module) > 0


def _is_block_container(module: nn.Module) -> bool:
    """A container whose children are all composite modules (a stage of blocks, not conv-bn-act)."""
    return _is_container(module) and all(_children(child) for child in module.children())


def _is_heavy(module: nn.Module) -> bool:
    if _children(module):
        return True
    return any(p.dim() >= 2 for p in module.parameters(recurse=False))
