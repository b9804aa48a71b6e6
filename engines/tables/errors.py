"""Errors a person can act on when uploading, querying and plotting tables."""

from __future__ import annotations

from engines.errors import NeurodeckError

__all__ = [
    "TableError",
    "UploadTooLarge",
    "TableNotFound",
    "ColumnNotFound",
    "SqlRefused",
]


class TableError(NeurodeckError, ValueError):
    """Root of the table errors: bad input or a request the tables cannot answer."""


class UploadTooLarge(TableError):
    """The upload is over the size cap; large files are opened from an allowed folder instead."""


class TableNotFound(TableError, KeyError):
    """No table of that name in this session."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ColumnNotFound(TableError, KeyError):
    """No column of that name in the table."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class SqlRefused(TableError, PermissionError):
    """The SQL is not one read-only SELECT over this session's tables (DDL, DML, several statements, file
    reads)."""
