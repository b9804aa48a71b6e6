"""A shared ``WorkspaceDb`` (the NWB index store's): one SQLite connection for every thread of the process,
transactions still atomic, a failed one leaves the connection usable; and index values converted in one
call are the values the element-wise conversion gives."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from engines import workspace_db
from engines.nwb.index import NwbIndex, ObjectInfo, to_jsonable
from engines.nwb.index_store import IndexStore
from engines.workspace_db import WorkspaceDb

SCHEMA = "CREATE TABLE IF NOT EXISTS rows (k TEXT PRIMARY KEY, v INTEGER NOT NULL)"


@pytest.fixture
def connections(monkeypatch) -> list[sqlite3.Connection]:
    """Every connection ``engines.workspace_db`` opens from now on."""
    opened: list[sqlite3.Connection] = []
    real = sqlite3.connect

    def counting(*args, **kwargs) -> sqlite3.Connection:
        opened.append(real(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(workspace_db.sqlite3, "connect", counting)
    return opened


def test_the_index_store_reads_and_writes_through_one_connection(workspace: Path, connections):
    store = IndexStore(workspace)
    before = len(connections)
    index = NwbIndex({"/": ObjectInfo(path="/", kind="group")}, "2.7.0")

    def open_many(first: int) -> None:
        for key in range(first, first + 10):
            if store.get(f"file-{key}") is None:
                store.put(f"file-{key}", f"https://example.org/{key}.nwb", index)

    threads = [threading.Thread(target=open_many, args=(10 * n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(connections) - before <= 1
    fresh = IndexStore(workspace)  # another store (as another process would) sees every row
    assert all(fresh.get(f"file-{key}") is not None for key in range(40))


def test_a_failed_transaction_leaves_the_shared_connection_usable(tmp_path: Path):
    db = WorkspaceDb(tmp_path / "shared.sqlite", SCHEMA, shared=True)
    with db.write() as conn:
        conn.execute("INSERT INTO rows VALUES ('a', 1)")
    with pytest.raises(sqlite3.IntegrityError), db.write() as conn:
        conn.execute("INSERT INTO rows VALUES ('b', 2)")
        conn.execute("INSERT INTO rows VALUES ('a', 3)")  # fails: the whole transaction is rolled back
    with db.write() as conn:
        conn.execute("INSERT INTO rows VALUES ('c', 4)")
    with db.read() as conn:
        assert [tuple(r) for r in conn.execute("SELECT k, v FROM rows ORDER BY k")] == [("a", 1), ("c", 4)]


def _element_wise(value: np.ndarray) -> list:
    return [to_jsonable(v) for v in value.tolist()] if value.ndim == 1 else [_element_wise(r) for r in value]


@pytest.mark.parametrize(
    "value",
    [
        np.arange(300, dtype="<i8"),
        np.array([0, 2**64 - 1], dtype="<u8"),
        np.array([True, False]),
        np.linspace(0.0, 1.0, 300),
        np.array([1.5, np.nan, np.inf, -np.inf]),
        np.arange(12, dtype="<f4").reshape(3, 4),
    ],
)
def test_short_numeric_values_are_converted_as_element_by_element(value: np.ndarray):
    assert to_jsonable(value) == _element_wise(value)
