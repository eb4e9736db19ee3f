"""Opaque, time-ordered identifiers: ``<prefix>_<16 hex of ns clock><10 hex random>``.

Ordering by id is ordering by creation, which is what cursor pagination needs.
"""

from __future__ import annotations

import secrets
import time


def new_id(prefix: str) -> str:
    return f"{prefix}_{time.time_ns():016x}{secrets.token_hex(5)}"
