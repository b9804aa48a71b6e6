"""Everything a review decides, in ``<workspace>/curation/decisions.sqlite``: nothing is lost on a
reload, a crash or a second browser tab.

Groups get ids that are stable per analyzer and unit set (a new candidate list reuses the id
of a group it found before). Judge runs and their decisions (one row per group per run) are
written as they happen. Verdicts and labels are append-only logs written the moment they are
given: the current verdict of a group is its latest one not undone, so two tabs never
overwrite each other's history, and an undo marks a row instead of deleting it. Each verdict
records its owner, the signed-in user who gave it (verdicts from before owners were recorded keep
their rows, with owner '': the column is added in place).

Every call opens a connection, runs one short transaction (``BEGIN IMMEDIATE`` for writes)
and closes it, so one store may be shared by threads and processes. The journal is WAL on
a local disk and the rollback journal on network filesystems, as for the job store.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engines._owners import add_owner_column
from engines.curation.data import UnitId, plain_unit_id
from engines.curation.errors import CurationError
from engines.curation.model import CandidateGroup, JudgeRun, MergeDecision, UnitLabel, Verdict
from engines.curation.store_rows import (
    SCHEMA,
    add_p_merge_column,
    decision_from_row,
    group_from_row,
    inserted_id,
    units_json,
    verdict_from_row,
)
from engines.workspace_db import WorkspaceDb

__all__ = ["DecisionStore", "VERDICTS", "LABELS"]

VERDICTS = ("accept", "reject", "skip")
LABELS = ("good", "mua", "noise")


class DecisionStore:
    """See the module docstring. ``workspace/curation/decisions.sqlite`` is created on first use."""

    def __init__(self, workspace: Path) -> None:
        self.folder = Path(workspace) / "curation"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / "decisions.sqlite"
        self._db = WorkspaceDb(self.path, SCHEMA)
        with self._db.write() as db:
            add_owner_column(db, "verdicts")
            add_p_merge_column(db)

    # --- analyzers and groups -----------------------------------------------------------------
    def register_analyzer(self, key: str, path: str, n_units: int) -> None:
        with self._db.write() as db:
            db.execute(
                "INSERT INTO analyzers (key, path, n_units, created) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET path = excluded.path",
                (key, path, n_units, time.time()),
            )

    def _ensure_group(
        self,
        db: sqlite3.Connection,
        analyzer: str,
        units: tuple[UnitId, ...],
        origin: str,
        similarity: float | None,
        parent_id: int | None,
    ) -> CandidateGroup:
        text = units_json(units)
        row = db.execute("SELECT * FROM groups WHERE analyzer = ? AND units = ?", (analyzer, text)).fetchone()
        if row is None:
            next_id = db.execute(
                "SELECT COALESCE(MAX(group_id), -1) + 1 FROM groups WHERE analyzer = ?", (analyzer,)
            ).fetchone()[0]
            db.execute(
                "INSERT INTO groups (analyzer, group_id, units, origin, parent_id, similarity, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (analyzer, next_id, text, origin, parent_id, similarity, time.time()),
            )
            row = db.execute(
                "SELECT * FROM groups WHERE analyzer = ? AND group_id = ?", (analyzer, next_id)
            ).fetchone()
        return group_from_row(row)

    def save_candidates(
        self,
        analyzer: str,
        groups: list[tuple[tuple[UnitId, ...], str, float | None]],
        request: dict[str, Any],
        seconds: dict[str, float],
    ) -> list[CandidateGroup]:
        """Record a candidate list (the analyzer's current one); known unit sets keep their ids."""
        with self._db.write() as db:
            list_id = inserted_id(
                db.execute(
                    "INSERT INTO candidate_lists (analyzer, request, seconds, created) VALUES (?, ?, ?, ?)",
                    (analyzer, json.dumps(request), json.dumps(seconds), time.time()),
                )
            )
            saved = []
            for position, (units, origin, similarity) in enumerate(groups):
                group = self._ensure_group(db, analyzer, units, origin, similarity, None)
                db.execute(
                    "INSERT OR IGNORE INTO candidate_members (list_id, group_id, position) VALUES (?, ?, ?)",
                    (list_id, group.group_id, position),
                )
                saved.append(group)
        return saved

    def current_candidates(self, analyzer: str) -> list[CandidateGroup]:
        """The latest candidate list, plus groups made by hand (edited or manual) since, in order."""
        with self._db.read() as db:
            latest = db.execute(
                "SELECT id, created FROM candidate_lists WHERE analyzer = ? ORDER BY id DESC LIMIT 1",
                (analyzer,),
            ).fetchone()
            rows = (
                []
                if latest is None
                else db.execute(
                    "SELECT g.* FROM candidate_members m "
                    "JOIN groups g ON g.analyzer = ? AND g.group_id = m.group_id "
                    "WHERE m.list_id = ? ORDER BY m.position",
                    (analyzer, latest["id"]),
                ).fetchall()
            )
            made = db.execute(
                "SELECT * FROM groups WHERE analyzer = ? "
                "AND (origin LIKE 'edited:%' OR origin = 'manual') ORDER BY group_id",
                (analyzer,),
            ).fetchall()
        seen = {r["group_id"] for r in rows}
        return [group_from_row(r) for r in rows] + [
            group_from_row(r) for r in made if r["group_id"] not in seen
        ]

    def candidate_request(self, analyzer: str) -> dict[str, Any] | None:
        with self._db.read() as db:
            row = db.execute(
                "SELECT request FROM candidate_lists WHERE analyzer = ? ORDER BY id DESC LIMIT 1", (analyzer,)
            ).fetchone()
        return json.loads(row["request"]) if row else None

    def add_group(
        self,
        analyzer: str,
        units: tuple[UnitId, ...],
        origin: str = "manual",
        parent_id: int | None = None,
        similarity: float | None = None,
    ) -> CandidateGroup:
        with self._db.write() as db:
            return self._ensure_group(db, analyzer, units, origin, similarity, parent_id)

    def groups(self, analyzer: str, group_ids: Iterable[int] | None = None) -> list[CandidateGroup]:
        """The analyzer's groups, or ``group_ids`` in that order (one group reads one row, not thousands)."""
        wanted = None if group_ids is None else list(group_ids)
        one = wanted[0] if wanted is not None and len(wanted) == 1 else None
        only = "" if one is None else " AND group_id = ?"
        with self._db.read() as db:
            rows = db.execute(
                f"SELECT * FROM groups WHERE analyzer = ?{only} ORDER BY group_id",
                (analyzer,) if one is None else (analyzer, one),
            ).fetchall()
        found = {int(r["group_id"]): group_from_row(r) for r in rows}
        if wanted is None:
            return list(found.values())
        unknown = [g for g in wanted if g not in found]
        if unknown:
            raise CurationError(f"no group {unknown} for this analyzer; refresh the candidate list")
        return [found[g] for g in wanted]

    # --- judge runs ---------------------------------------------------------------------------
    def start_run(self, analyzer: str, judge: str, params: dict[str, Any], group_ids: list[int]) -> int:
        with self._db.write() as db:
            return inserted_id(
                db.execute(
                    "INSERT INTO judge_runs (analyzer, judge, params, group_ids, status, started) "
                    "VALUES (?, ?, ?, ?, 'pending', ?)",
                    (analyzer, judge, json.dumps(params, default=str), json.dumps(group_ids), time.time()),
                )
            )

    def mark_run(self, run_id: int, status: str, message: str = "") -> None:
        finished = time.time() if status in ("done", "failed", "cancelled") else None
        with self._db.write() as db:
            db.execute(
                "UPDATE judge_runs SET status = ?, message = ?, finished = COALESCE(?, finished) "
                "WHERE id = ?",
                (status, message, finished, run_id),
            )

    def record_decision(self, run_id: int, analyzer: str, decision: MergeDecision) -> None:
        with self._db.write() as db:
            db.execute(
                "INSERT OR REPLACE INTO decisions (run_id, group_id, analyzer, judge, units, decision, "
                "confidence, score, p_merge, reasoning, report, merge_groups, error, evidence, tokens_in, "
                f"tokens_out, cost_usd, elapsed_s, created) VALUES ({', '.join('?' * 19)})",
                (
                    run_id,
                    decision.group_id,
                    analyzer,
                    decision.judge,
                    units_json(decision.unit_ids),
                    decision.decision,
                    decision.confidence,
                    decision.score,
                    decision.p_merge,
                    decision.reasoning,
                    decision.report,
                    json.dumps([[plain_unit_id(u) for u in g] for g in decision.merge_groups]),
                    decision.error,
                    json.dumps(decision.evidence, default=str),
                    decision.tokens_in,
                    decision.tokens_out,
                    decision.cost_usd,
                    decision.elapsed_s,
                    time.time(),
                ),
            )

    def run(self, run_id: int) -> JudgeRun:
        with self._db.read() as db:
            row = db.execute("SELECT * FROM judge_runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise CurationError(f"no judge run {run_id} in this workspace; refresh the page")
            stats = db.execute(
                "SELECT COUNT(*) AS n, SUM(error IS NOT NULL) AS errors, SUM(tokens_in) AS tin, "
                "SUM(tokens_out) AS tout, SUM(cost_usd) AS cost FROM decisions WHERE run_id = ?",
                (run_id,),
            ).fetchone()
        return JudgeRun(
            id=int(row["id"]),
            judge=row["judge"],
            params=json.loads(row["params"]),
            status=row["status"],
            n_groups=len(json.loads(row["group_ids"])),
            n_done=int(stats["n"] or 0),
            n_errors=int(stats["errors"] or 0),
            started=row["started"],
            finished=row["finished"],
            message=row["message"] or "",
            tokens_in=int(stats["tin"] or 0),
            tokens_out=int(stats["tout"] or 0),
            cost_usd=float(stats["cost"] or 0.0),
        )

    def run_group_ids(self, run_id: int) -> list[int]:
        with self._db.read() as db:
            row = db.execute("SELECT group_ids FROM judge_runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise CurationError(f"no judge run {run_id} in this workspace; refresh the page")
        return list(json.loads(row["group_ids"]))

    def runs(self, analyzer: str) -> list[JudgeRun]:
        with self._db.read() as db:
            ids = [
                r[0]
                for r in db.execute(
                    "SELECT id FROM judge_runs WHERE analyzer = ? ORDER BY id DESC", (analyzer,)
                )
            ]
        return [self.run(i) for i in ids]

    def decisions(self, run_id: int) -> list[MergeDecision]:
        with self._db.read() as db:
            rows = db.execute(
                "SELECT * FROM decisions WHERE run_id = ? ORDER BY created", (run_id,)
            ).fetchall()
        return [decision_from_row(r) for r in rows]

    def latest_decisions(
        self, analyzer: str, judge: str | None = None, group_id: int | None = None
    ) -> dict[int, MergeDecision]:
        """Each group's most recent decision (of one judge, or of any; of one group, or of all)."""
        where: list[tuple[str, str | int]] = [("judge = ?", judge)] if judge else []
        where += [("group_id = ?", group_id)] if group_id is not None else []
        query = "SELECT * FROM decisions WHERE analyzer = ?" + "".join(f" AND {w}" for w, _ in where)
        with self._db.read() as db:
            rows = db.execute(
                query + " ORDER BY created, run_id", (analyzer, *(v for _, v in where))
            ).fetchall()
        return {int(r["group_id"]): decision_from_row(r) for r in rows}

    # --- verdicts -----------------------------------------------------------------------------
    def record_verdict(
        self,
        analyzer: str,
        group_id: int,
        verdict: str,
        merge_units: tuple[UnitId, ...],
        session: str,
        owner: str = "",
    ) -> Verdict:
        """Append ``owner``'s verdict (a ``Person.name``) given in browser session ``session``."""
        if verdict not in VERDICTS:
            raise CurationError(f"unknown verdict {verdict!r}; use accept, reject or skip")
        with self._db.write() as db:
            vid = inserted_id(
                db.execute(
                    "INSERT INTO verdicts "
                    "(analyzer, group_id, verdict, merge_units, session, created, owner) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (analyzer, group_id, verdict, units_json(merge_units), session, time.time(), owner),
                )
            )
            return verdict_from_row(db.execute("SELECT * FROM verdicts WHERE id = ?", (vid,)).fetchone())

    def undo_last(self, analyzer: str, session: str) -> Verdict | None:
        """Undo this session's latest verdict still standing; returns it (None when there is none)."""
        with self._db.write() as db:
            row = db.execute(
                "SELECT * FROM verdicts WHERE analyzer = ? AND session = ? AND undone = 0 "
                "ORDER BY id DESC LIMIT 1",
                (analyzer, session),
            ).fetchone()
            if row is None:
                return None
            db.execute("UPDATE verdicts SET undone = 1 WHERE id = ?", (row["id"],))
        return verdict_from_row(row)

    def current_verdicts(self, analyzer: str) -> dict[int, Verdict]:
        """Each group's latest verdict not undone (from any session)."""
        with self._db.read() as db:
            rows = db.execute(
                "SELECT * FROM verdicts WHERE analyzer = ? AND undone = 0 ORDER BY id", (analyzer,)
            ).fetchall()
        return {int(r["group_id"]): verdict_from_row(r) for r in rows}

    def verdict_history(self, analyzer: str, group_id: int | None = None) -> list[Verdict]:
        query = "SELECT * FROM verdicts WHERE analyzer = ?" + (
            " AND group_id = ?" if group_id is not None else ""
        )
        with self._db.read() as db:
            rows = db.execute(
                query + " ORDER BY id", (analyzer,) if group_id is None else (analyzer, group_id)
            )
            return [verdict_from_row(r) for r in rows.fetchall()]

    # --- labels and examples ------------------------------------------------------------------
    def record_labels(self, analyzer: str, labels: Iterable[UnitLabel], session: str = "") -> None:
        rows = [
            (
                analyzer,
                json.dumps(plain_unit_id(lab.unit_id)),
                lab.label,
                lab.source,
                lab.probability,
                session,
                time.time(),
            )
            for lab in labels
        ]
        with self._db.write() as db:
            db.executemany(
                "INSERT INTO unit_labels (analyzer, unit_id, label, source, probability, session, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def current_labels(self, analyzer: str) -> dict[UnitId, UnitLabel]:
        """Each unit's latest human label, else its latest label from a labeler."""
        with self._db.read() as db:
            rows = db.execute(
                "SELECT * FROM unit_labels WHERE analyzer = ? ORDER BY (source = 'human'), id", (analyzer,)
            ).fetchall()
        labels = {}
        for row in rows:
            unit = json.loads(row["unit_id"])
            labels[unit] = UnitLabel(
                unit_id=unit, label=row["label"], source=row["source"], probability=row["probability"]
            )
        return labels

    def set_example(self, analyzer: str, group_id: int, kind: str | None) -> None:
        """Mark a group as a good or bad few-shot example (None: no longer an example)."""
        if kind not in ("good", "bad", None):
            raise CurationError(f"an example is 'good' or 'bad', not {kind!r}")
        with self._db.write() as db:
            db.execute("DELETE FROM examples WHERE analyzer = ? AND group_id = ?", (analyzer, group_id))
            if kind is not None:
                db.execute(
                    "INSERT INTO examples (analyzer, group_id, kind) VALUES (?, ?, ?)",
                    (analyzer, group_id, kind),
                )

    def examples(self, analyzer: str) -> dict[int, str]:
        with self._db.read() as db:
            rows = db.execute(
                "SELECT group_id, kind FROM examples WHERE analyzer = ?", (analyzer,)
            ).fetchall()
        return {int(r["group_id"]): r["kind"] for r in rows}
