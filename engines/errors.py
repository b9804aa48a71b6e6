"""The one root of every error a user can cause, so the UI can show its message and go on.

Each domain error also subclasses the builtin that fits it (``OSError`` for files and
network, ``ValueError`` for bad arguments), so callers that know nothing of Neurodeck
still handle it sensibly.
"""

from __future__ import annotations

__all__ = ["NeurodeckError"]


class NeurodeckError(Exception):
    """An error whose message tells a person what went wrong and what to do next."""
