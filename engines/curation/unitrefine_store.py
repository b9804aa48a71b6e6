"""UnitRefine labels kept beside the review's decisions, in ``<workspace>/curation/decisions.sqlite``.

A model's labels are its own column, not a unit's label: they sit beside bombcell's and a person's and never
replace either (a person still decides with the Units & labels table). So they get their own append-only
table, ``model_labels``, in the decisions database (``store.py`` holds the review's own tables); each run
adds rows and a unit's current label per model is its latest row, so a reload or a second tab shows them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engines.curation.data import UnitId, plain_unit_id
from engines.curation.unitrefine import ModelLabel, UnitRefineModel
from engines.workspace_db import WorkspaceDb

__all__ = ["ModelLabelStore", "unitrefine_export"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS model_labels (
    id INTEGER PRIMARY KEY AUTOINCREMENT, analyzer TEXT NOT NULL, model TEXT NOT NULL, classes TEXT NOT NULL,
    unit_id TEXT NOT NULL, label TEXT NOT NULL, probability REAL, session TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS model_labels_by_analyzer ON model_labels (analyzer, model, id);
"""


class ModelLabelStore:
    """See the module docstring; one per workspace, safe across threads and processes (``WorkspaceDb``)."""

    def __init__(self, workspace: Path) -> None:
        self._db = WorkspaceDb(Path(workspace) / "curation" / "decisions.sqlite", SCHEMA)

    def record(
        self, analyzer: str, model: UnitRefineModel, labels: Iterable[ModelLabel], session: str = ""
    ) -> None:
        classes, now = json.dumps(list(model.classes)), time.time()
        rows = [
            (
                analyzer,
                model.name,
                classes,
                json.dumps(plain_unit_id(lab.unit_id)),
                lab.label,
                lab.probability,
                session,
                now,
            )
            for lab in labels
        ]
        with self._db.write() as db:
            db.executemany(
                "INSERT INTO model_labels (analyzer, model, classes, unit_id, label, probability, session, "
                "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def latest(self, analyzer: str) -> dict[str, dict[UnitId, ModelLabel]]:
        """Model name -> each unit's latest label from that model."""
        with self._db.read() as db:
            rows = db.execute(
                "SELECT model, unit_id, label, probability FROM model_labels WHERE analyzer = ? ORDER BY id",
                (analyzer,),
            ).fetchall()
        found: dict[str, dict[UnitId, ModelLabel]] = {}
        for row in rows:
            unit = json.loads(row["unit_id"])
            found.setdefault(row["model"], {})[unit] = ModelLabel(
                unit_id=unit, model=row["model"], label=row["label"], probability=row["probability"]
            )
        return found

    def classes(self, analyzer: str) -> dict[str, list[str]]:
        """Model name -> its classes, as recorded with its latest labels."""
        with self._db.read() as db:
            rows = db.execute(
                "SELECT model, classes FROM model_labels WHERE analyzer = ? ORDER BY id", (analyzer,)
            ).fetchall()
        return {row["model"]: json.loads(row["classes"]) for row in rows}

    def labeler_labels(self, analyzer: str, source: str) -> dict[UnitId, str]:
        """Each unit's latest label from one labeler of the review's own table (``bombcell``), whatever a
        person set since: the column the models' labels are read against."""
        with self._db.read() as db:
            exists = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'unit_labels'"
            ).fetchone()
            rows = (
                db.execute(
                    "SELECT unit_id, label FROM unit_labels WHERE analyzer = ? AND source = ? ORDER BY id",
                    (analyzer, source),
                ).fetchall()
                if exists
                else []
            )
        return {json.loads(row["unit_id"]): row["label"] for row in rows}


def unitrefine_export(workspace: Path, analyzer: str) -> dict[str, Any]:
    """``{"unitrefine_labels": {model: {"classes": [...], "labels": [{unit_id, label, probability}]}}}`` for
    the curation JSON, or {} when no model labelled this analyzer (SpikeInterface ignores the key)."""
    store = ModelLabelStore(workspace)
    latest, classes = store.latest(analyzer), store.classes(analyzer)
    if not latest:
        return {}
    return {
        "unitrefine_labels": {
            model: {
                "classes": classes.get(model, []),
                "labels": [
                    {"unit_id": unit, "label": lab.label, "probability": lab.probability}
                    for unit, lab in units.items()
                ],
            }
            for model, units in latest.items()
        }
    }
