"""Errors a person can act on when building or opening a derived product (pyramid, ordering, movie,
summary)."""

from __future__ import annotations

from engines.errors import NeurodeckError

__all__ = ["ProductInputError", "ProductNotFound"]


class ProductInputError(NeurodeckError, ValueError):
    """The inputs cannot make this product (no spikes, bad parameters, data of the wrong shape)."""


class ProductNotFound(NeurodeckError, FileNotFoundError):
    """The folder holds no finished product of this kind (never built, or the build was cut short)."""
