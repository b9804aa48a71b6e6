"""The ``owner`` column every store of things people own has, added in place to tables made before owners
existed.

``ALTER TABLE ... ADD COLUMN`` keeps every row (legacy rows get owner '', which belongs to the admins
alone: see ``Person.may_manage``); it runs once, when a store opens a workspace whose table lacks it.
"""

from __future__ import annotations

import sqlite3

__all__ = ["add_owner_column"]


def add_owner_column(db: sqlite3.Connection, table: str) -> None:
    """Give ``table`` an ``owner TEXT NOT NULL DEFAULT ''`` column unless it has one (call inside a write)."""
    columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
    if "owner" not in columns:
        try:
            db.execute(f"ALTER TABLE {table} ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
        except sqlite3.OperationalError as exc:  # another connection added it between the check and here
            if "duplicate column" not in str(exc):
                raise
