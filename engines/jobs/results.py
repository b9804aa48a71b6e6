"""Finished job results on disk: ``<workspace>/results/<kind>/<input_hash>-<code_version>/``.

A result is written into a temporary folder next to its final place and renamed into place
in one step, so readers see either nothing or the whole result, and a crashed worker leaves
only a temporary folder (swept by the next attempt at the same request). The first rename
wins; a later worker's identical result is discarded, so each result is written once.
Every published folder holds ``_result.json`` (request, summary, who made it), which also
makes it non-empty: POSIX lets a rename replace an *empty* folder, never a full one.
"""

from __future__ import annotations

import errno
import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

__all__ = ["ResultStore", "RESULT_MANIFEST"]

RESULT_MANIFEST = "_result.json"
_TEMP_PREFIX = ".tmp-"


class ResultStore:
    """Result folders keyed by (kind, input hash, code version); all calls are a few file-system
    operations."""

    def __init__(self, workspace: Path) -> None:
        self.root = Path(workspace) / "results"

    @staticmethod
    def key(kind: str, input_hash: str, code_version: str) -> str:
        """The result's path relative to the results folder, stored as the job's ``result_key``."""
        return f"{kind}/{input_hash}-{code_version}"

    def path_for(self, kind: str, input_hash: str, code_version: str) -> Path | None:
        """The finished result folder for this request, or None if it was never published."""
        path = self.root / self.key(kind, input_hash, code_version)
        return path if (path / RESULT_MANIFEST).is_file() else None

    def manifest(self, path: Path) -> dict[str, Any]:
        """The ``_result.json`` of a published result (request, summary, job id, worker, time)."""
        manifest: dict[str, Any] = json.loads((path / RESULT_MANIFEST).read_text())  # written by publish
        return manifest

    def start(self, kind: str, input_hash: str, code_version: str, job_id: int) -> Path:
        """A fresh, empty temporary folder for one attempt at this request.

        Temporary folders of earlier attempts at the same request are removed first: only one
        job per request is ever active, so they belong to crashed or abandoned attempts.
        """
        folder = self.root / kind
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{_TEMP_PREFIX}{input_hash}-{code_version}-"
        for stale in folder.glob(f"{stem}*"):
            shutil.rmtree(stale, ignore_errors=True)
        path = folder / f"{stem}{job_id}-{uuid.uuid4().hex[:8]}"
        path.mkdir()
        return path

    def publish(
        self, temp_dir: Path, kind: str, input_hash: str, code_version: str, manifest: dict[str, Any]
    ) -> Path:
        """Move a finished temporary folder into place and return the final folder.

        If the request was already published (another worker finished first), ``temp_dir`` is
        discarded and the existing folder returned.
        """
        record = {
            "kind": kind,
            "input_hash": input_hash,
            "code_version": code_version,
            "published": time.time(),
            **manifest,
        }
        (temp_dir / RESULT_MANIFEST).write_text(json.dumps(record, indent=1, sort_keys=True))
        final = self.root / self.key(kind, input_hash, code_version)
        try:
            temp_dir.rename(final)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY) and not isinstance(exc, FileExistsError):
                raise
            self.discard(temp_dir)
        return final

    @staticmethod
    def discard(temp_dir: Path) -> None:
        """Remove an attempt's temporary folder (failed, cancelled, or beaten by another worker)."""
        shutil.rmtree(temp_dir, ignore_errors=True)
