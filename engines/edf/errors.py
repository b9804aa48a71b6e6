"""Errors a person can act on when opening and reading EDF/BDF files."""

from __future__ import annotations

from engines.errors import NeurodeckError

__all__ = ["EdfOpenError", "NotAnEdfFile", "EdfReadError", "EdfRequestError"]


class EdfOpenError(NeurodeckError, OSError):
    """The source could not be opened as an EDF/BDF file."""


class NotAnEdfFile(EdfOpenError):
    """The bytes are not an EDF, EDF+, BDF or BDF+ file (wrong version field, broken header)."""


class EdfReadError(NeurodeckError, OSError):
    """The file opened but some of its data could not be read (a damaged annotation, a server gone)."""


class EdfRequestError(NeurodeckError, ValueError):
    """The caller asked for something the file does not have (a channel, a window outside it)."""
