"""Named viewer states saved in the workspace (``<workspace>/ngstate/states/<name>.json``).

One JSON file per state, written to a temporary name and renamed, so a crash or a restart
never leaves half a file and two saves of the same name leave one of them whole.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from engines.ngstate.errors import NgStateError, StateNotFound, StateParseError
from engines.ngstate.state import NgState

__all__ = ["SavedState", "StateStore"]

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ .-]{0,63}$")


@dataclass(frozen=True)
class SavedState:
    name: str
    saved_at: datetime
    size_bytes: int


class StateStore:
    """Save, list, load and delete named states; safe to share between sessions and threads."""

    def __init__(self, workspace: Path) -> None:
        self.folder = Path(workspace) / "ngstate" / "states"

    def _path(self, name: str) -> Path:
        name = (name or "").strip()
        if not _NAME.match(name) or name.endswith("."):
            raise NgStateError(
                f"'{name}' cannot name a saved state: use 1-64 letters, digits, spaces, '.', '_' or '-', "
                "starting with a letter, digit or '_'."
            )
        return self.folder / f"{name}.json"

    def save(self, name: str, state: NgState) -> SavedState:
        """Write ``state`` under ``name`` (replacing any earlier one) atomically."""
        path = self._path(name)
        self.folder.mkdir(parents=True, exist_ok=True)
        text = state.to_json(indent=1)
        descriptor, temporary = tempfile.mkstemp(dir=self.folder, prefix=".saving-", suffix=".json")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return self._describe(path)

    def load(self, name: str) -> NgState:
        path = self._path(name)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            listed = ", ".join(s.name for s in self.list()) or "none saved yet"
            raise StateNotFound(f"No saved state named '{name}'. Saved states: {listed}.") from exc
        try:
            return NgState.from_json(text)
        except StateParseError as exc:
            raise StateParseError(f"The saved state '{name}' is damaged ({exc}). Delete it and save it again.") from exc

    def list(self) -> list[SavedState]:
        """Saved states, newest first."""
        if not self.folder.is_dir():
            return []
        found = [self._describe(p) for p in self.folder.glob("*.json") if not p.name.startswith(".")]
        return sorted(found, key=lambda s: s.saved_at, reverse=True)

    def delete(self, name: str) -> None:
        path = self._path(name)
        if not path.exists():
            raise StateNotFound(f"No saved state named '{name}'.")
        path.unlink()

    @staticmethod
    def _describe(path: Path) -> SavedState:
        stat = path.stat()
        return SavedState(path.stem, datetime.fromtimestamp(stat.st_mtime, tz=UTC), stat.st_size)
