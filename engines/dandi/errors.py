"""Errors a person can act on when browsing the DANDI archive.

An archive that does not answer raises ``engines.io.errors.SourceUnreachable`` and a missing
dandiset, version or asset ``SourceNotFound``, like any other source: callers treat them alike.
"""

from __future__ import annotations

from engines.errors import NeurodeckError

__all__ = ["DandiRequestError"]


class DandiRequestError(NeurodeckError, ValueError):
    """The request itself is malformed (an identifier that is not 6 digits, a page below 1)."""
