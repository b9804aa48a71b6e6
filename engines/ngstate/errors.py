"""Errors a person can act on when reading, changing, fetching or sampling a Neuroglancer state."""

from __future__ import annotations

from engines.errors import NeurodeckError

__all__ = [
    "NgStateError",
    "StateParseError",
    "LayerNotFound",
    "PointerError",
    "StateNotFound",
    "VolumeError",
    "VolumeTooLarge",
]


class NgStateError(NeurodeckError, ValueError):
    """Root of the Neuroglancer-state errors: bad arguments or a state that cannot take a change."""


class StateParseError(NgStateError):
    """The text is not a Neuroglancer URL, ``#!`` fragment, JSON state or pointer URL."""


class LayerNotFound(NgStateError, KeyError):
    """No layer of that name in the state."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class StateNotFound(NgStateError, KeyError):
    """No saved state of that name in the workspace."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class PointerError(NeurodeckError, OSError):
    """A JSON pointer URL (``#!s3://``, ``#!gs://``, ``#!https://``) could not be fetched: refused (a
    private address), over the size cap, or failed; the message says which and what to do."""


class VolumeError(NeurodeckError, OSError):
    """A layer's volume could not be opened or read, or the server refuses it (a private address, a
    path outside the allowed folders); the message says which."""


class VolumeTooLarge(NeurodeckError, ValueError):
    """A read would hold more voxels in memory than allowed; choose a coarser mip or a smaller box."""
