"""pandas frames as Polars without pyarrow, which the project does not install (polars' own
``from_pandas`` needs it for any column that is not plain numpy)."""

from __future__ import annotations

import pandas as pd
import polars as pl

__all__ = ["polars_from_pandas"]


def polars_from_pandas(frame: pd.DataFrame) -> pl.DataFrame:
    """Numeric and boolean columns through numpy; the rest (text, lists) as Python values."""
    return pl.DataFrame(
        {
            str(name): (column.to_numpy() if column.dtype.kind in "biuf" else column.to_list())
            for name, column in frame.items()
        }
    )
