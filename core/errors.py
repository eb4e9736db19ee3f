"""The one error hierarchy of Reassembly.

Every failure a user can cause or meet is a ``ReassemblyError`` with a stable ``code``, a message
that says what was wrong and what to do, and optional ``details``. The API maps these classes to
HTTP statuses in exactly one place (``api/errors.py``); workers store ``code`` and ``message`` on the
job row. Core code raises these and never knows about HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class ReassemblyError(Exception):
    """Base of every error the project raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class NotFound(ReassemblyError):
    code = "not_found"


class Conflict(ReassemblyError):
    """The request clashes with the current state (wrong job state, reused idempotency key)."""

    code = "conflict"


class InvalidInput(ReassemblyError):
    """Well-formed but semantically wrong input (bad keys, bad shapes, impossible config)."""

    code = "invalid_input"


class Infeasible(InvalidInput):
    """A budget or a bound that no solution can meet; the message names the smallest feasible one."""

    code = "infeasible"


class UnsupportedMediaType(ReassemblyError):
    code = "unsupported_media_type"


class PayloadTooLarge(ReassemblyError):
    code = "payload_too_large"


class NotALineGraph(InvalidInput):
    """Dissection found a model whose trunk branches; the message names the first offending node."""

    code = "not_a_line_graph"


class DissectionMismatch(ReassemblyError):
    """Stem + blocks + head did not reproduce the model: the dissection is refused, not stored."""

    code = "dissection_mismatch"


class JobCancelled(ReassemblyError):
    """Raised inside a running job at its next progress point after a user cancelled it."""

    code = "cancelled"


class Unavailable(ReassemblyError):
    """A dependency (database, broker) cannot be reached."""

    code = "unavailable"


class StorageFull(ReassemblyError):
    """The artifact store has no room (no space left, quota or file-size limit): nothing was kept."""

    code = "storage_full"


@contextmanager
def reported_as_invalid(what: str, hint: str) -> Iterator[None]:
    """Parsing untrusted bytes: our own errors pass through; anything else the parsing libraries
    raise (zipfile, zlib, numpy, Pillow raise many kinds) becomes ``InvalidInput`` naming it."""
    try:
        yield
    except ReassemblyError:
        raise
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise InvalidInput(f"{what} ({reason}); {hint}", details={"reason": reason}) from exc
