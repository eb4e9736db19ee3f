"""Packages whose torch-backed names load on first use, so their torch-free parts import without torch."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_getattr(package: str, modules: dict[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package``: each name in ``modules[sub]`` (space-separated)
    is imported from ``package.sub`` when first asked for."""
    where = {name: f"{package}.{sub}" for sub, names in modules.items() for name in names.split()}

    def __getattr__(name: str) -> Any:
        if name in where:
            return getattr(importlib.import_module(where[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
