"""The decisions database's schema and the conversions between its rows and the review's model objects.

It exists so that ``store`` holds only the queries: what a row looks like is decided here, once, for
every query that reads or writes one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from engines.curation.data import UnitId, plain_unit_id
from engines.curation.errors import CurationError
from engines.curation.model import CandidateGroup, MergeDecision, Verdict

__all__ = [
    "SCHEMA",
    "add_p_merge_column",
    "decision_from_row",
    "group_from_row",
    "inserted_id",
    "units_from_json",
    "units_json",
    "verdict_from_row",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS analyzers (
    key TEXT PRIMARY KEY, path TEXT NOT NULL, n_units INTEGER, created REAL);
CREATE TABLE IF NOT EXISTS groups (
    analyzer TEXT NOT NULL, group_id INTEGER NOT NULL, units TEXT NOT NULL, origin TEXT NOT NULL DEFAULT '',
    parent_id INTEGER, similarity REAL, created REAL NOT NULL,
    PRIMARY KEY (analyzer, group_id), UNIQUE (analyzer, units));
CREATE TABLE IF NOT EXISTS candidate_lists (
    id INTEGER PRIMARY KEY AUTOINCREMENT, analyzer TEXT NOT NULL, request TEXT NOT NULL, seconds TEXT,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS candidate_members (
    list_id INTEGER NOT NULL, group_id INTEGER NOT NULL, position INTEGER NOT NULL,
    PRIMARY KEY (list_id, group_id));
CREATE TABLE IF NOT EXISTS judge_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, analyzer TEXT NOT NULL, judge TEXT NOT NULL, params TEXT NOT NULL,
    group_ids TEXT NOT NULL, status TEXT NOT NULL, started REAL NOT NULL, finished REAL,
    message TEXT DEFAULT '');
CREATE TABLE IF NOT EXISTS decisions (
    run_id INTEGER NOT NULL, group_id INTEGER NOT NULL, analyzer TEXT NOT NULL, judge TEXT NOT NULL,
    units TEXT NOT NULL, decision TEXT, confidence REAL, score REAL, reasoning TEXT, report TEXT,
    merge_groups TEXT, error TEXT, evidence TEXT, tokens_in INTEGER, tokens_out INTEGER, cost_usd REAL,
    elapsed_s REAL, created REAL NOT NULL, p_merge REAL, PRIMARY KEY (run_id, group_id));
CREATE INDEX IF NOT EXISTS decisions_by_group ON decisions (analyzer, group_id, created);
CREATE TABLE IF NOT EXISTS verdicts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, analyzer TEXT NOT NULL, group_id INTEGER NOT NULL,
    verdict TEXT NOT NULL, merge_units TEXT NOT NULL, session TEXT NOT NULL, created REAL NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS verdicts_by_group ON verdicts (analyzer, group_id, id);
CREATE TABLE IF NOT EXISTS unit_labels (
    id INTEGER PRIMARY KEY AUTOINCREMENT, analyzer TEXT NOT NULL, unit_id TEXT NOT NULL, label TEXT NOT NULL,
    source TEXT NOT NULL, probability REAL, session TEXT NOT NULL DEFAULT '', created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS examples (
    analyzer TEXT NOT NULL, group_id INTEGER NOT NULL, kind TEXT NOT NULL, PRIMARY KEY (analyzer, group_id));
"""


def add_p_merge_column(db: sqlite3.Connection) -> None:
    """Give ``decisions`` its ``p_merge`` column in a database made before calibration (call inside a
    write); older rows keep NULL, read back as "no calibrated probability"."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(decisions)")}
    if "p_merge" not in columns:
        try:
            db.execute("ALTER TABLE decisions ADD COLUMN p_merge REAL")
        except sqlite3.OperationalError as exc:  # another connection added it between the check and here
            if "duplicate column" not in str(exc):
                raise


def units_json(units: Iterable[Any]) -> str:
    return json.dumps([plain_unit_id(u) for u in units])


def units_from_json(text: str | None) -> tuple[UnitId, ...]:
    return tuple(json.loads(text)) if text else ()


def inserted_id(cursor: sqlite3.Cursor) -> int:
    """The id of the row an INSERT just made (sqlite3 types ``lastrowid`` Optional: None before any
    INSERT)."""
    if cursor.lastrowid is None:
        raise CurationError("the decisions database did not report the new row's id; try again")
    return cursor.lastrowid


def group_from_row(row: sqlite3.Row) -> CandidateGroup:
    return CandidateGroup(
        group_id=int(row["group_id"]),
        unit_ids=units_from_json(row["units"]),
        similarity=row["similarity"],
        origin=row["origin"],
        parent_id=row["parent_id"],
    )


def decision_from_row(row: sqlite3.Row) -> MergeDecision:
    return MergeDecision(
        group_id=int(row["group_id"]),
        unit_ids=units_from_json(row["units"]),
        judge=row["judge"],
        decision=row["decision"],
        confidence=row["confidence"],
        score=row["score"],
        p_merge=row["p_merge"],
        reasoning=row["reasoning"] or "",
        report=row["report"] or "",
        merge_groups=tuple(tuple(g) for g in json.loads(row["merge_groups"] or "[]")),
        error=row["error"],
        evidence=json.loads(row["evidence"] or "{}"),
        tokens_in=row["tokens_in"] or 0,
        tokens_out=row["tokens_out"] or 0,
        cost_usd=row["cost_usd"] or 0.0,
        elapsed_s=row["elapsed_s"] or 0.0,
    )


def verdict_from_row(row: sqlite3.Row) -> Verdict:
    return Verdict(
        id=int(row["id"]),
        group_id=int(row["group_id"]),
        verdict=row["verdict"],
        merge_units=units_from_json(row["merge_units"]),
        session=row["session"],
        created=row["created"],
        undone=bool(row["undone"]),
        owner=row["owner"],
    )
