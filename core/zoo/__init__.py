"""Model sources. Importing this package registers the project's own architectures with timm
(MobileNeXt and the small CIFAR-style nets) so ``timm.create_model`` knows them like any other."""

from __future__ import annotations

import importlib

# Registration modules; each calls timm's @register_model on import. Listed here so that
# ``import core.zoo`` is all a caller needs before ``timm.create_model("mobilenext_100")``.
_REGISTRATION_MODULES = ("core.zoo.mobilenext", "core.zoo.small")

for _name in _REGISTRATION_MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # pragma: no cover - only while a module is being written
        if exc.name != _name:
            raise
