"""SQL over a session's tables, read-only: exactly one SELECT (or UNION/INTERSECT/EXCEPT of SELECTs).

The query is parsed with sqlglot and refused unless every table it names is one of the
session's tables or a CTE of the query itself, and no file-reading table function
(``read_csv``, ``read_parquet``, ...) appears anywhere. What runs is the SQL regenerated from
the checked syntax tree (so a parser disagreement cannot smuggle anything past the check), in
a fresh ``polars.SQLContext`` that holds only this session's tables. Polars' own
``CREATE TABLE``, ``DROP``, ``DELETE``, ``TRUNCATE`` and ``SELECT ... INTO`` never reach it.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from engines.tables.errors import SqlRefused, TableError

__all__ = ["check_sql", "run_sql", "MAX_SQL_CHARS"]

MAX_SQL_CHARS = 20_000
_SET_OPERATIONS = (exp.Union, exp.Intersect, exp.Except)
_FILE_FUNCTIONS = ("read_", "scan_")


def _parse_one(query: str) -> exp.Expr:
    if not query or not query.strip():
        raise SqlRefused("Write a SELECT query, e.g. SELECT * FROM rois ORDER BY volume DESC LIMIT 10.")
    if len(query) > MAX_SQL_CHARS:
        raise SqlRefused(f"The query is longer than {MAX_SQL_CHARS:,} characters.")
    try:
        statements = [s for s in sqlglot.parse(query) if s is not None]
    except ParseError as exc:
        first = exc.errors[0]["description"] if exc.errors else str(exc)
        raise TableError(f"The SQL does not parse: {first}.") from exc
    if len(statements) != 1:
        raise SqlRefused(
            f"Send one SELECT statement at a time; this text holds {len(statements)} statements."
        )
    return statements[0]


def _check_shape(tree: exp.Expr) -> None:
    if not isinstance(tree, (exp.Select, *_SET_OPERATIONS)):
        kind = tree.key.upper() if tree.key else type(tree).__name__
        raise SqlRefused(f"Only SELECT queries are allowed here; {kind} statements would change data.")
    for node in tree.walk():
        if isinstance(
            node,
            (
                exp.Create,
                exp.Drop,
                exp.Delete,
                exp.Insert,
                exp.Update,
                exp.TruncateTable,
                exp.Alter,
                exp.Merge,
                exp.Command,
            ),
        ):
            raise SqlRefused(
                f"{node.key.upper()} is not allowed: queries here only read the session's tables."
            )
        if isinstance(node, exp.Select) and node.args.get("into") is not None:
            raise SqlRefused(
                "SELECT ... INTO creates a table; run the SELECT alone (its result is kept as a new table)."
            )
        if isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name.startswith(_FILE_FUNCTIONS):
                raise SqlRefused(
                    f"{name.upper()}() reads files on the server; query the session's tables instead."
                )


def _check_tables(tree: exp.Expr, allowed: set[str]) -> set[str]:
    """The session tables the query reads; ``SqlRefused`` for anything that is not one (or a CTE)."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    by_lower = {name.lower(): name for name in allowed}
    used = set()
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise SqlRefused(
                "Only the session's tables may follow FROM/JOIN; table functions are not allowed."
            )
        if table.args.get("db") or table.args.get("catalog"):
            raise SqlRefused(
                f"'{table.sql()}' names a database or schema; use the session's table names alone."
            )
        if table.name.lower() in by_lower and table.name.lower() not in ctes:
            used.add(by_lower[table.name.lower()])
            table.set("this", exp.to_identifier(by_lower[table.name.lower()]))  # the name as registered
        elif table.name.lower() not in ctes:
            listed = ", ".join(sorted(allowed)) or "(none: upload a CSV first)"
            raise SqlRefused(f"There is no table '{table.name}' in this session. Tables: {listed}.")
    return used


def check_sql(query: str, tables: set[str]) -> tuple[str, set[str]]:
    """The checked query regenerated from its syntax tree, and the session tables it reads.

    ``SqlRefused`` says why a query is not allowed; ``TableError`` when it does not parse.
    """
    tree = _parse_one(query)
    _check_shape(tree)
    used = _check_tables(tree, tables)
    return tree.sql(comments=False), used


def run_sql(query: str, frames: Mapping[str, pl.DataFrame | pl.LazyFrame]) -> tuple[pl.LazyFrame, set[str]]:
    """A lazy plan of the checked query in a fresh context holding only the tables it reads."""
    checked, used = check_sql(query, set(frames))
    context = pl.SQLContext(frames={name: frames[name] for name in used})
    try:
        return context.execute(checked, eager=False), used
    except (
        pl.exceptions.PolarsError,
        ValueError,
    ) as exc:  # polars' SQL layer reports unknown columns as ValueError too
        raise TableError(f"The query failed: {str(exc).splitlines()[0]}") from exc
