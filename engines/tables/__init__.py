"""Per-session tables: CSV uploads (and large files read lazily), structured queries, safe SQL,
plot specifications and the ranked multi-view table that opens each row in the viewer.
"""

from engines.tables.errors import (
    ColumnNotFound,
    SqlRefused,
    TableError,
    TableNotFound,
    UploadTooLarge,
)
from engines.tables.limits import QueryLimits
from engines.tables.model import ColumnInfo, Filter, MultiViewTable, PlotSpec, SortKey, TableInfo
from engines.tables.sql import check_sql
from engines.tables.workspace import DEFAULT_MAX_RESULT_ROWS, DEFAULT_MAX_UPLOAD_BYTES, TableWorkspace

__all__ = [
    "TableWorkspace",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "DEFAULT_MAX_RESULT_ROWS",
    "QueryLimits",
    "TableInfo",
    "ColumnInfo",
    "Filter",
    "SortKey",
    "PlotSpec",
    "MultiViewTable",
    "check_sql",
    "TableError",
    "UploadTooLarge",
    "TableNotFound",
    "ColumnNotFound",
    "SqlRefused",
]
