"""Errors a person can act on while curating a sorting: each says what went wrong and what to do."""

from __future__ import annotations

from engines.errors import NeurodeckError

__all__ = [
    "CurationError",
    "AnalyzerOpenError",
    "MissingExtensions",
    "ReplyParseError",
]


class CurationError(NeurodeckError):
    """Root of the curation engine's errors."""


class AnalyzerOpenError(CurationError, OSError):
    """The folder is not a SortingAnalyzer this SpikeInterface can read (missing, other version, corrupt)."""


class MissingExtensions(CurationError, ValueError):
    """A step needs analyzer extensions that are not computed; the message names them."""

    def __init__(self, message: str, missing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing


class ReplyParseError(CurationError, ValueError):
    """The model's reply did not hold the decision asked for. A ``ValueError``: the image-question
    helper (``engines.agent.images``) asks the model once more on one."""
