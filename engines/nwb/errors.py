"""Errors a person can act on when opening and reading NWB files."""

from __future__ import annotations

from engines.errors import NeurodeckError
from engines.io.errors import SourceError

__all__ = [
    "NwbOpenError",
    "NwbReadError",
    "ObjectNotFound",
]


class NwbOpenError(SourceError):
    """The source was read but is no NWB file it can open (corrupt, truncated, plain HDF5, NWB 1.x, a
    broken LINDI index); ``engines.io`` errors: it could not be read."""


class NwbReadError(NeurodeckError, OSError):
    """The file opened but this object could not be read (broken or unsupported data)."""


class ObjectNotFound(NeurodeckError, KeyError):
    """No object at this path in the file."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
