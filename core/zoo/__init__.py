"""Model sources. Importing this package registers the project's own architectures with timm
(MobileNeXt and the small CIFAR-style nets) so ``timm.create_model`` knows them like any other."""

from __future__ import annotations

import core.zoo.mda_nets
import core.zoo.mobilenext
import core.zoo.small  # noqa: F401
