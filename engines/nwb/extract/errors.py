"""Errors of the extraction layer that a person can act on.

Both derive from ``NeurodeckError``; a broken file still raises ``NwbReadError`` and a
missing object ``ObjectNotFound`` (from ``engines.nwb.errors``).
"""

from __future__ import annotations

from engines.errors import NeurodeckError

__all__ = ["UnsupportedData", "InvalidRequest"]


class UnsupportedData(NeurodeckError, ValueError):
    """The object is readable but this kind of view cannot show its data; the message names one that can."""


class InvalidRequest(NeurodeckError, ValueError):
    """The caller asked for something the object does not have (a frame, channel or window outside it)."""
