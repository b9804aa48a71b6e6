"""Errors a person can act on when opening and reading EDF/BDF files."""

from __future__ import annotations

from engines.errors import NeurodeckError

__all__ = ["EdfOpenError", "EdfRequestError"]


class EdfOpenError(NeurodeckError, OSError):
    """The source could not be opened as an EDF/BDF file: not EDF, EDF+, BDF or BDF+ (wrong version
    field, broken header) or cut short. Data that cannot be read once open is an
    ``engines.io.SourceError``."""


class EdfRequestError(NeurodeckError, ValueError):
    """The caller asked for something the file does not have (a channel, a window outside it)."""
