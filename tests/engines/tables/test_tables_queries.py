"""Looking at tables and deriving new ones: preview, schema, describe, select, sample, counts, joins, SQL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engines.tables import ColumnNotFound, Filter, SortKey, SqlRefused, TableError, TableWorkspace

DEMO_CSV = Path(__file__).resolve().parents[3] / "assets" / "demo_rois.csv"
CELLS = b"""id,kind,volume,intensity,site
1,neuron,120.5,88,a
2,glia,80.0,,b
3,neuron,200.25,140,a
4,neuron,,95,c
5,glia,60.5,70,b
6,other,150.0,110,a
"""
SITES = b"""site,region
a,cortex
b,hippocampus
d,thalamus
"""


@pytest.fixture
def ws() -> TableWorkspace:
    workspace = TableWorkspace()
    workspace.upload("cells.csv", CELLS)
    workspace.upload("sites.csv", SITES)
    return workspace


@pytest.fixture
def lazy_ws(workspace, policy) -> TableWorkspace:
    (workspace / "cells.csv").write_bytes(CELLS)
    (workspace / "sites.csv").write_bytes(SITES)
    tables = TableWorkspace(policy, max_upload_bytes=10)  # everything is "large": opened lazily
    tables.open_file(str(workspace / "cells.csv"))
    tables.open_file(str(workspace / "sites.csv"))
    return tables


def test_preview_and_list(ws):
    assert ws.preview("cells", rows=2, offset=1)["id"].to_list() == [2, 3]
    assert [t.name for t in ws.list_tables()] == ["cells", "sites"]
    assert "cells: 6 rows, 5 columns [id (Int64), kind (String)" in ws.info("cells").describe()


def test_schema_names_types_nulls_and_examples(ws):
    volume = {c.name: c for c in ws.schema("cells")}["volume"]
    assert (volume.dtype, volume.null_count, volume.examples) == ("Float64", 1, (120.5, 80.0, 200.25))


def test_describe_matches_numpy(ws):
    described = ws.describe("cells")
    stats = dict(zip(described["statistic"], described["volume"]))
    values = np.array([120.5, 80.0, 200.25, 60.5, 150.0])
    assert stats["count"] == 5 and stats["null_count"] == 1
    assert stats["mean"] == pytest.approx(values.mean()) and stats["std"] == pytest.approx(values.std(ddof=1))
    assert (stats["min"], stats["max"]) == (60.5, 200.25)


@pytest.mark.parametrize(
    "flt, ids",
    [
        (Filter("kind", "==", "neuron"), [1, 3, 4]),
        (Filter("volume", ">", 100), [1, 3, 6]),
        ({"column": "volume", "op": "<=", "value": 80}, [2, 5]),
        (Filter("kind", "!=", "neuron"), [2, 5, 6]),
        (Filter("site", "in", ["b", "c"]), [2, 4, 5]),
        (Filter("site", "not_in", ["a"]), [2, 4, 5]),
        (Filter("intensity", "between", [90, 140]), [3, 4, 6]),
        (Filter("kind", "contains", "eur"), [1, 3, 4]),
        (Filter("kind", "starts_with", "gl"), [2, 5]),
        (Filter("volume", "is_null"), [4]),
        (Filter("intensity", "not_null"), [1, 3, 4, 5, 6]),
    ],
)
def test_every_filter_operator(ws, flt, ids):
    result = ws.select("cells", filters=[flt])
    assert ws.frame(result.name)["id"].to_list() == ids


def test_select_combines_filters_sort_columns_and_limit(ws):
    result = ws.select(
        "cells",
        columns=["id", "volume"],
        filters=[Filter("kind", "==", "neuron")],
        sort=[SortKey("volume", descending=True)],
        limit=2,
    )
    assert result.name == "r1" and result.columns == ("id", "volume")
    assert ws.frame("r1")["id"].to_list() == [3, 1]
    ordered = ws.select("cells", sort=["-volume"])  # nulls last, whatever the direction
    assert ws.frame(ordered.name)["id"].to_list() == [3, 6, 1, 2, 5, 4]
    named = ws.select("cells", sort=[{"column": "id", "descending": True}], save_as="newest first")
    assert named.name == "newest_first" and ws.frame("newest_first")["id"][0] == 6


def test_select_errors_name_the_columns(ws):
    with pytest.raises(ColumnNotFound, match="no column 'size'. Its columns are: id, kind, volume"):
        ws.select("cells", filters=[Filter("size", ">", 1)])
    with pytest.raises(TableError, match="Unknown filter operator 'like'"):
        ws.select("cells", filters=[{"column": "kind", "op": "like", "value": "x"}])
    with pytest.raises(TableError, match="needs a list of 2 values"):
        ws.select("cells", filters=[Filter("volume", "between", 5)])
    with pytest.raises(TableError, match="failed on this data"):
        ws.select("cells", filters=[Filter("volume", ">", "big")])
    assert [t.name for t in ws.list_tables()] == ["cells", "sites"]  # nothing half-made was kept


def test_seeded_samples_repeat(ws):
    first = ws.frame(ws.sample("cells", 3, seed=7).name)
    again = ws.frame(ws.sample("cells", 3, seed=7).name)
    other = [ws.frame(ws.sample("cells", 3, seed=s).name)["id"].to_list() for s in range(5)]
    assert first.equals(again) and first.height == 3
    assert len({tuple(ids) for ids in other}) > 1
    assert ws.frame(ws.sample("cells", 100).name).height == 6


def test_value_counts(ws):
    counts = ws.value_counts("cells", "kind")
    assert counts.rows() == [("neuron", 3, 0.5), ("glia", 2, 2 / 6), ("other", 1, 1 / 6)]
    assert ws.value_counts("cells", "kind", limit=1).height == 1


@pytest.mark.parametrize(
    "how, ids", [("inner", [1, 2, 3, 5, 6]), ("left", [1, 2, 3, 4, 5, 6]), ("anti", [4])]
)
def test_joins(ws, how, ids):
    result = ws.join("cells", "sites", on="site", how=how)
    frame = ws.frame(result.name).sort("id")
    assert frame["id"].to_list() == ids
    if how != "anti":
        assert "region" in frame.columns


def test_join_on_differently_named_keys_and_errors(ws):
    ws.upload("labels.csv", b"cell,label\n1,alpha\n3,gamma\n")
    result = ws.join("cells", "labels", left_on="id", right_on="cell")
    assert ws.frame(result.name).sort("id")["label"].to_list() == ["alpha", "gamma"]
    with pytest.raises(TableError, match="Name the key columns"):
        ws.join("cells", "labels")
    with pytest.raises(ColumnNotFound, match="'labels' has no column 'id'"):
        ws.join("cells", "labels", on="id")
    with pytest.raises(TableError, match="Unknown join 'outer_space'"):
        ws.join("cells", "labels", on="id", how="outer_space")


def test_sql_over_the_sessions_tables(ws):
    query = """
        WITH big AS (SELECT * FROM cells WHERE volume > 70)
        SELECT s.region, count(*) AS n, avg(b.volume) AS mean_volume
        FROM big b JOIN Sites s ON b.site = s.site
        GROUP BY s.region ORDER BY n DESC -- biggest first
    """
    result = ws.sql(query)
    assert result.name == "r1"
    assert ws.frame("r1").rows() == [
        ("cortex", 3, pytest.approx((120.5 + 200.25 + 150.0) / 3)),
        ("hippocampus", 1, 80.0),
    ]
    union = ws.sql("SELECT site FROM cells UNION SELECT site FROM sites")
    assert sorted(ws.frame(union.name)["site"].to_list()) == ["a", "b", "c", "d"]
    nested = ws.sql("SELECT id FROM cells WHERE volume > (SELECT avg(volume) FROM cells) ORDER BY id")
    assert ws.frame(nested.name)["id"].to_list() == [3, 6]


@pytest.mark.parametrize(
    "query, message",
    [
        ("DROP TABLE cells", "DROP statement"),
        ("CREATE TABLE copy AS SELECT * FROM cells", "CREATE statement"),
        ("DELETE FROM cells WHERE id = 1", "DELETE statement"),
        ("TRUNCATE cells", "TRUNCATE"),
        ("INSERT INTO cells VALUES (9, 'x', 1, 1, 'a')", "INSERT statement"),
        ("UPDATE cells SET volume = 0", "UPDATE statement"),
        ("ALTER TABLE cells RENAME TO x", "ALTER"),
        ("SELECT * INTO copy FROM cells", "creates a table"),
        ("SELECT * FROM cells; DROP TABLE cells", "holds 2 statements"),
        ("SELECT 1; SELECT 2", "holds 2 statements"),
        ("SELECT * FROM read_csv('/etc/passwd')", "READ_CSV\\(\\) reads files"),
        ("SELECT * FROM read_parquet('/tmp/x.parquet')", "READ_PARQUET\\(\\) reads files"),
        ("SELECT * FROM read_json('/tmp/x.json')", "reads files"),
        ("SELECT * FROM cells WHERE id IN (SELECT column_1 FROM read_csv('/etc/passwd'))", "reads files"),
        ("SELECT * FROM main.cells", "names a database or schema"),
        ("SELECT * FROM elsewhere", "no table 'elsewhere'"),
        ("", "Write a SELECT"),
    ],
)
def test_sql_refusals(ws, query, message):
    before = ws.frame("cells")
    with pytest.raises(SqlRefused, match=message):
        ws.sql(query)
    assert ws.frame("cells").equals(before)
    assert [t.name for t in ws.list_tables()] == ["cells", "sites"]


def test_sql_that_fails_on_the_data_is_a_query_error(ws):
    with pytest.raises(TableError, match="does not parse"):
        ws.sql("SELECT FROM WHERE")
    with pytest.raises(TableError, match="failed"):
        ws.sql("SELECT no_such_column FROM cells")


def test_polars_would_have_run_what_we_refuse(ws):
    """The refusals matter: Polars' own SQL context executes these."""
    context = pl.SQLContext(frames={"cells": ws.frame("cells")})
    context.execute("DROP TABLE cells")
    assert context.tables() == []


def test_lazy_tables_answer_like_eager_ones(ws, lazy_ws):
    for tables in (ws, lazy_ws):
        joined = tables.join("cells", "sites", on="site", how="inner")
        ranked = tables.select(joined.name, sort=["-volume"], limit=2, columns=["id", "region"])
        assert tables.frame(ranked.name).rows() == [(3, "cortex"), (6, "cortex")]
        assert tables.value_counts("cells", "kind")["count"].to_list() == [3, 2, 1]
        assert (
            tables.frame(tables.sample("cells", 2, seed=3).name)["id"].to_list()
            == ws.frame(ws.sample("cells", 2, seed=3).name)["id"].to_list()
        )
    assert lazy_ws.info("r1").lazy and lazy_ws.describe("cells").shape == ws.describe("cells").shape


def test_results_are_cut_at_the_row_limit():
    ws = TableWorkspace(max_result_rows=3)
    ws.upload("demo.csv", DEMO_CSV.read_bytes())
    result = ws.sql("SELECT * FROM demo")
    assert result.truncated and result.rows == 3 and result.notes[0].startswith("Cut at 3 rows")
