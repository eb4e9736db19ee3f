"""Which ``timm.create_model`` arguments a client may set: architecture hyper-parameters only.

``model_kwargs`` reach ``timm.create_model``, whose loading arguments fetch URLs and open files
(``pretrained_cfg_overlay={"url": ...}`` made a worker fetch an internal address; ``checkpoint_path``
opened server files). So a key must be a plain identifier that is not a loading argument, and a value
a number, a boolean, a short word, or a short list of numbers — no nested objects, paths or URLs.
Torch-free: the API checks before any work, and the worker checks again before building.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from core.errors import InvalidInput

# timm/create_model arguments that load, fetch or redirect weights or files.
REFUSED_KEYS = frozenset(
    {
        "pretrained", "pretrained_cfg", "pretrained_cfg_overlay", "pretrained_strict", "checkpoint_path",
        "cache_dir", "url", "hf_hub_id", "hf_hub_filename", "file", "scriptable", "exportable",
    }
)  # fmt: skip
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_WORD = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_LOADING_SUFFIXES = ("_path", "_url", "_file", "_dir", "_cfg", "_overlay")
MAX_KWARGS = 32
MAX_LIST = 16


def _scalar_ok(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return abs(value) <= 1_000_000
    if isinstance(value, float):
        return abs(value) <= 1e6
    return isinstance(value, str) and bool(_WORD.match(value))


def check_model_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``kwargs`` unchanged when every key and value is an architecture setting; else InvalidInput
    naming the offending key and saying what is allowed."""
    if len(kwargs) > MAX_KWARGS:
        raise InvalidInput(f"model_kwargs has {len(kwargs)} keys; at most {MAX_KWARGS} are accepted")
    for key, value in kwargs.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise InvalidInput(f"model_kwargs key {key!r} is not a lower-case identifier")
        if key in REFUSED_KEYS or key.endswith(_LOADING_SUFFIXES):
            raise InvalidInput(
                f"model_kwargs may not set {key!r}: arguments that load weights, files or URLs are refused; "
                "upload weights as safetensors with POST /v1/models:upload instead",
                details={"key": key},
            )
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and len(value) > MAX_LIST:
            raise InvalidInput(f"model_kwargs[{key!r}] is a list of {len(value)}; at most {MAX_LIST} values")
        if not all(_scalar_ok(v) for v in values):
            raise InvalidInput(
                f"model_kwargs[{key!r}] must be a number (|x| <= 1e6), a boolean, a short word or a short "
                "list of those; nested objects, paths and URLs are refused",
                details={"key": key},
            )
    return dict(kwargs)
