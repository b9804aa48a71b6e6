"""Errors a person can act on when browsing the DANDI archive."""

from __future__ import annotations

from engines.errors import NeurodeckError

__all__ = ["DandiError", "DandiUnreachable", "DandiNotFound", "DandiRequestError"]


class DandiError(NeurodeckError, OSError):
    """The DANDI API could not answer this request."""


class DandiUnreachable(DandiError, ConnectionError):
    """No answer from the DANDI API (offline, timeout, server error), or an answer that is not the API's."""


class DandiNotFound(DandiError, FileNotFoundError):
    """No dandiset, version or asset by that name."""


class DandiRequestError(NeurodeckError, ValueError):
    """The request itself is malformed (an identifier that is not 6 digits, a page below 1)."""
