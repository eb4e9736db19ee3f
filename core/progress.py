"""Progress reporting for long core computations.

Core functions take an optional ``progress`` callback ``(fraction, message) -> None``. The worker
passes one that writes the job row and raises ``JobCancelled`` when the user cancelled, so a
cancellation takes effect at the next progress point. Library users may pass nothing.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, fraction: float, message: str = "") -> None: ...


def no_progress(fraction: float, message: str = "") -> None:
    """The default: report nowhere."""


def scaled(progress: Progress, start: float, end: float) -> Progress:
    """A sub-task's progress mapped into [start, end] of its parent's."""

    def report(fraction: float, message: str = "") -> None:
        progress(start + (end - start) * min(max(fraction, 0.0), 1.0), message)

    return report
