"""Getting tables in: encodings, delimiters, malformed/empty/huge/binary files, large files read lazily,
isolation."""

from __future__ import annotations

import codecs
from dataclasses import replace

import polars as pl
import pytest

from engines.tables import (
    TableError,
    TableNotFound,
    TableWorkspace,
    UploadTooLarge,
)

ROWS = "name,site,volume\nCélia,Zürich,12.5\nJosé,Bogotá,7.25\nØyvind,Tromsø,3.0\n"


def _names(ws: TableWorkspace, table: str) -> list[str]:
    return ws.frame(table)["name"].to_list()


@pytest.mark.parametrize(
    "encoding, expected",
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("latin-1", "cp1252"),
        ("cp1252", "cp1252"),
        ("utf-16", "utf-16-le"),
        ("utf-16-be-bom", "utf-16-be"),
        ("utf-16-le", "utf-16-le"),
        ("utf-32", "utf-32-le"),
    ],
)
def test_text_encodings_are_detected(encoding, expected):
    data = (
        codecs.BOM_UTF16_BE + ROWS.encode("utf-16-be")
        if encoding == "utf-16-be-bom"
        else ROWS.encode(encoding)
    )
    ws = TableWorkspace()
    info = ws.upload("cells.csv", data)
    assert _names(ws, info.name) == ["Célia", "José", "Øyvind"]
    assert ws.frame(info.name)["volume"].to_list() == [12.5, 7.25, 3.0]
    assert f"({expected}," in info.origin


def test_latin1_bytes_that_cp1252_leaves_undefined_still_read():
    ws = TableWorkspace()
    info = ws.upload("odd.csv", b"code,label\n1,caf\xe9\x81\n")
    assert ws.frame(info.name)["label"].to_list() == ["caf\xe9\x81"]
    assert "latin-1" in info.origin


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_detected(delimiter):
    text = (
        delimiter.join(["id", "label", "score"])
        + "\n"
        + "\n".join(
            delimiter.join([str(i), f'"a{delimiter}b {i}"' if delimiter == "," else f"a,b {i}", str(i / 2)])
            for i in range(30)
        )
    )
    ws = TableWorkspace()
    info = ws.upload("t.csv", text.encode())
    assert info.columns == ("id", "label", "score") and info.rows == 30
    assert ws.frame(info.name)["label"][3] == (f"a{delimiter}b 3" if delimiter == "," else "a,b 3")


def test_semicolon_files_with_decimal_commas():
    ws = TableWorkspace()
    info = ws.upload("eu.csv", b"id;volume\n1;12,5\n2;3,25\n")
    assert ws.frame(info.name)["volume"].to_list() == [12.5, 3.25]


def test_a_type_change_late_in_the_file_is_not_an_error():
    text = "id,value\n" + "".join(f"{i},{i}\n" for i in range(15_000)) + "15000,not a number\n"
    ws = TableWorkspace()
    info = ws.upload("late.csv", text.encode())
    assert info.rows == 15_001 and info.dtypes[1] == "String"


@pytest.mark.parametrize(
    "data, error, message",
    [
        (b"", TableError, "is empty"),
        (b"  \n\n \r\n", TableError, "is empty"),
        (codecs.BOM_UTF8, TableError, "is empty"),
        (b"id,volume\n", TableError, "header but no rows"),
        (b"id,volume\n1,2\n3,4,5\n6,7\n", TableError, "line 3 has 3 fields; the header has 2"),
        (b'id,name\n1,"unclosed\n2,x\n', TableError, "not consistent CSV|could not be read"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", TableError, "binary data"),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", TableError, "binary data"),
    ],
)
def test_bad_files_get_clear_errors_and_add_nothing(data, error, message):
    ws = TableWorkspace()
    with pytest.raises(error, match=message):
        ws.upload("bad.csv", data)
    assert ws.list_tables() == []


def test_uploads_over_the_cap_are_refused_before_parsing():
    ws = TableWorkspace(max_upload_bytes=1000)
    with pytest.raises(UploadTooLarge, match="over the upload limit.*open it from there"):
        ws.upload("big.csv", b"a,b\n" + b"1,2\n" * 1000)
    assert ws.list_tables() == []
    assert isinstance(UploadTooLarge("x"), ValueError)


def test_table_names_come_from_file_names_and_never_collide():
    ws = TableWorkspace()
    first = ws.upload("ROIs 2024 (final).csv", b"a\n1\n")
    second = ws.upload("rois-2024-final.csv", b"a\n2\n")
    third = ws.upload("2024.csv", b"a\n3\n")
    assert (first.name, second.name, third.name) == ("rois_2024_final", "rois_2024_final_2", "t_2024")


def test_two_sessions_never_see_each_others_tables():
    alice, bob = TableWorkspace(), TableWorkspace()
    alice.upload("secret.csv", b"a\n1\n")
    assert bob.list_tables() == []
    with pytest.raises(TableNotFound, match="No table 'secret'"):
        bob.preview("secret")
    with pytest.raises(TableError, match="no table 'secret'"):
        bob.sql("SELECT * FROM secret")


@pytest.fixture
def big_csv(workspace):
    path = workspace / "big.csv"
    path.write_text("id,group,value\n" + "".join(f"{i},{'abc'[i % 3]},{i * 0.5}\n" for i in range(20_000)))
    return path


def test_large_files_are_opened_lazily_from_allowed_folders(big_csv, policy):
    ws = TableWorkspace(policy, max_upload_bytes=10_000)
    info = ws.open_file(str(big_csv))
    assert info.lazy and info.rows is None and info.columns == ("id", "group", "value")
    assert ws.preview("big", rows=2, offset=10)["id"].to_list() == [10, 11]
    assert ws.count_rows("big") == 20_000 and ws.info("big").rows == 20_000
    result = ws.sql('SELECT "group", count(*) AS n FROM big GROUP BY "group" ORDER BY "group"')
    assert result.rows == 3 and ws.frame(result.name)["n"].to_list() == [
        6667,
        6667,
        6666,
    ]  # kept: rows, not a plan


def test_small_files_from_allowed_folders_are_read_whole(big_csv, policy):
    info = TableWorkspace(policy).open_file(str(big_csv))
    assert not info.lazy and info.rows == 20_000


def test_files_outside_the_allowed_folders_are_refused(tmp_path, policy):
    outside = tmp_path / "outside.csv"
    outside.write_text("a\n1\n")
    with pytest.raises(TableError, match="outside the folders this server may read"):
        TableWorkspace(policy).open_file(str(outside))
    with pytest.raises(TableError, match="reads no local folders"):
        TableWorkspace().open_file(str(outside))


def test_large_non_utf8_files_are_refused_with_what_to_do(workspace, policy):
    path = workspace / "latin.csv"
    path.write_bytes(b"name,x\n" + "Zoë,1\n".encode("latin-1") * 5000)
    with pytest.raises(TableError, match="CP1252 text.*Save it as UTF-8"):
        TableWorkspace(policy, max_upload_bytes=100).open_file(str(path))
    utf16 = workspace / "wide.csv"
    utf16.write_bytes(("name,x\n" + "Zoë,1\n" * 5000).encode("utf-16"))
    with pytest.raises(TableError, match="UTF-16-LE text"):
        TableWorkspace(policy, max_upload_bytes=100).open_file(str(utf16))


def test_session_table_limit(policy):
    ws = TableWorkspace(max_tables=2)
    ws.upload("a.csv", b"a\n1\n")
    ws.upload("b.csv", b"a\n1\n")
    with pytest.raises(TableError, match="holds 2 tables"):
        ws.upload("c.csv", b"a\n1\n")
    ws.drop("a")
    assert ws.upload("c.csv", b"a\n1\n").name == "c"


def test_the_upload_is_a_real_polars_frame():
    ws = TableWorkspace()
    ws.upload("x.csv", b"a,b\n1,x\n")
    assert isinstance(ws.frame("x"), pl.DataFrame) and isinstance(ws.lazy("x"), pl.LazyFrame)
    assert replace(ws.info("x"), origin="").columns == ("a", "b")
