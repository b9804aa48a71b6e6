"""Errors a person can act on while curating a sorting: each says what went wrong and what to do."""

from __future__ import annotations

from engines.errors import NeurodeckError

__all__ = [
    "CurationError",
    "AnalyzerOpenError",
    "MissingExtensions",
    "EmptySorting",
    "UnknownUnits",
    "InvalidParameters",
    "ImageRenderError",
    "JudgeUnavailable",
    "ReplyParseError",
    "ApplyError",
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


class EmptySorting(CurationError, ValueError):
    """The sorting has no units or no spikes, so there is nothing to curate."""


class UnknownUnits(CurationError, KeyError):
    """Unit ids that are not in the analyzer's sorting."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InvalidParameters(CurationError, ValueError):
    """A preset, step or parameter value that SpikeInterface does not know or accept."""


class ImageRenderError(CurationError, RuntimeError):
    """One group's image could not be drawn; the other groups are not affected."""


class JudgeUnavailable(CurationError, ValueError):
    """The chosen judge cannot run here (no model endpoint configured, unknown judge name)."""


class ReplyParseError(CurationError, ValueError):
    """The model's reply did not contain the structured decision it was asked for."""


class ApplyError(CurationError, RuntimeError):
    """Merges could not be applied (units gone, sparsity too different, disk full)."""
