"""Per-session tables: CSV uploads (and large files read lazily), structured queries, safe SQL,
plot specifications and the ranked multi-view table that opens each row in the viewer.
"""

from engines.tables.errors import (
    ColumnNotFound,
    CsvParseError,
    EmptyTable,
    NotATable,
    QueryError,
    SqlRefused,
    TableError,
    TableNotFound,
    TooManyTables,
    UploadTooLarge,
)
from engines.tables.model import ColumnInfo, Filter, MultiViewTable, PlotSpec, SortKey, TableInfo
from engines.tables.sql import check_sql
from engines.tables.workspace import DEFAULT_MAX_UPLOAD_BYTES, TableWorkspace

__all__ = [
    "TableWorkspace", "DEFAULT_MAX_UPLOAD_BYTES",
    "TableInfo", "ColumnInfo", "Filter", "SortKey", "PlotSpec", "MultiViewTable", "check_sql",
    "TableError", "UploadTooLarge", "EmptyTable", "CsvParseError", "NotATable", "TableNotFound", "ColumnNotFound",
    "SqlRefused", "QueryError", "TooManyTables",
]
