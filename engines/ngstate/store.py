"""Named viewer states saved in the workspace (``<workspace>/ngstate/states/<name>.json``).

One JSON file per state, written to a temporary name and renamed, so a crash or a restart
never leaves half a file and two saves of the same name leave one of them whole.

Who may see a view: ``<workspace>/ngstate/views.sqlite`` records each name's owner and whether
they shared it. A store made for a ``person`` saves views as theirs (private until they
``share`` one), lists and opens only their own and shared ones, answers another user's
private name exactly as a name that does not exist, and refuses to overwrite, share or delete
another person's view (admins may open and delete any). A name is one view for everyone, so
bob can never replace what alice's ``&saved=plan`` link opens. Views saved before owners were
recorded have no row: they belong to the admins. A store made without a person is the
server's own (scripts, tests): it sees and changes everything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from engines._filesystem import atomic_write
from engines.ngstate.errors import NgStateError, StateNotFound, StateParseError
from engines.ngstate.state import NgState
from engines.people import NotAllowed, Person
from engines.workspace_db import WorkspaceDb

__all__ = ["SavedState", "StateStore"]

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ .-]{0,63}$")
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS views (name TEXT PRIMARY KEY, owner TEXT NOT NULL, shared INTEGER NOT NULL)"
)


@dataclass(frozen=True)
class SavedState:
    name: str
    saved_at: datetime
    size_bytes: int
    owner: str = ""
    shared: bool = False


class StateStore:
    """Save, list, load, share and delete named states as ``person`` (see the module docstring); safe to share
    between threads."""

    def __init__(self, workspace: Path, person: Person | None = None) -> None:
        self.folder = Path(workspace) / "ngstate" / "states"
        self.person = person
        self._db = WorkspaceDb(Path(workspace) / "ngstate" / "views.sqlite", _SCHEMA)

    def _owners(self) -> dict[str, tuple[str, bool]]:
        with self._db.read() as db:
            return {
                row["name"]: (row["owner"], bool(row["shared"])) for row in db.execute("SELECT * FROM views")
            }

    def _visible(self, owner: str, shared: bool) -> bool:
        return self.person is None or shared or self.person.may_manage(owner)

    def _refuse_change(self, name: str, owner: str, verb: str) -> None:
        if self.person is not None and not self.person.may_manage(owner):
            raise NotAllowed(
                f"'{name}' is another person's saved view, so you cannot {verb} it; "
                "save your view under another name."
            )

    def _path(self, name: str) -> Path:
        name = (name or "").strip()
        if not _NAME.match(name) or name.endswith("."):
            raise NgStateError(
                f"'{name}' cannot name a saved state: use 1-64 letters, digits, spaces, '.', '_' or '-', "
                "starting with a letter, digit or '_'."
            )
        return self.folder / f"{name}.json"

    def save(self, name: str, state: NgState, shared: bool | None = None) -> SavedState:
        """Write ``state`` under ``name`` (replacing the person's earlier one) atomically; a new name is
        private
        unless ``shared``. Raises ``NotAllowed`` when the name is another person's view."""
        path = self._path(name)
        self.folder.mkdir(parents=True, exist_ok=True)
        text = state.to_json(indent=1)
        with self._db.write() as db:  # holds the write lock: two people cannot claim one name at once
            row = db.execute("SELECT owner, shared FROM views WHERE name = ?", (path.stem,)).fetchone()
            if row is not None or path.exists():
                self._refuse_change(path.stem, row["owner"] if row else "", "replace")
            owner = row["owner"] if row else (self.person.name if self.person and not path.exists() else "")
            keep = bool(row["shared"]) if row else False
            atomic_write(path, text)
            db.execute(
                "INSERT OR REPLACE INTO views (name, owner, shared) VALUES (?, ?, ?)",
                (path.stem, owner, int(keep if shared is None else shared)),
            )
        return self._describe(path, owner, keep if shared is None else shared)

    def share(self, name: str, shared: bool = True) -> SavedState:
        """Let everyone open (and list) the view ``name``, or make it private again (``shared=False``)."""
        path = self._path(name)
        owner, _ = self._find(path)
        self._refuse_change(path.stem, owner, "share")
        with self._db.write() as db:
            db.execute(
                "INSERT OR REPLACE INTO views (name, owner, shared) VALUES (?, ?, ?)",
                (path.stem, owner, int(shared)),
            )
        return self._describe(path, owner, shared)

    def _find(self, path: Path) -> tuple[str, bool]:
        """The view's (owner, shared), or ``StateNotFound`` when it does not exist or the person may not see
        it."""
        owner, shared = self._owners().get(path.stem, ("", False))
        if not path.exists() or not self._visible(owner, shared):
            listed = ", ".join(s.name for s in self.list()) or "none saved yet"
            raise StateNotFound(f"No saved state named '{path.stem}'. Saved states: {listed}.")
        return owner, shared

    def load(self, name: str) -> NgState:
        path = self._path(name)
        self._find(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:  # deleted since it was found
            raise StateNotFound(f"No saved state named '{path.stem}'.") from exc
        try:
            return NgState.from_json(text)
        except StateParseError as exc:
            raise StateParseError(
                f"The saved state '{name}' is damaged ({exc}). Delete it and save it again."
            ) from exc

    def list(self) -> list[SavedState]:
        """The saved states this person may open (their own and shared ones), newest first."""
        if not self.folder.is_dir():
            return []
        owners = self._owners()
        found = []
        for path in self.folder.glob("*.json"):
            owner, shared = owners.get(path.stem, ("", False))
            if not path.name.startswith(".") and self._visible(owner, shared):
                try:
                    found.append(self._describe(path, owner, shared))
                except FileNotFoundError:  # deleted while listing
                    continue
        return sorted(found, key=lambda s: s.saved_at, reverse=True)

    def delete(self, name: str) -> None:
        """Delete the person's own view (admins: any); ``NotAllowed`` for someone else's shared view."""
        path = self._path(name)
        owner, _ = self._find(path)
        self._refuse_change(path.stem, owner, "delete")
        with self._db.write() as db:
            path.unlink(missing_ok=True)
            db.execute("DELETE FROM views WHERE name = ?", (path.stem,))

    @staticmethod
    def _describe(path: Path, owner: str, shared: bool) -> SavedState:
        stat = path.stat()
        return SavedState(
            path.stem, datetime.fromtimestamp(stat.st_mtime, tz=UTC), stat.st_size, owner, shared
        )
