"""Each cross-cutting concern has one home: file replacement, SQLite connections, error classes."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Folder renames, counted per module: a folder of many files (np.save, SpikeInterface, tensorstore)
# appears whole or not at all. A single file is always replaced through engines/_filesystem.py.
FOLDER_RENAMES = {
    "engines/jobs/results.py": 1,  # a job's result folder (several arrays and a manifest)
    "engines/curation/analyzer.py": 1,  # SpikeInterface writes the analyzer folder
    "engines/curation/apply.py": 1,  # SpikeInterface writes the curated analyzer folder
    "engines/curation/demo.py": 1,  # the demo recording, sorting and analyzer folder
    "engines/ngstate/demo.py": 1,  # tensorstore writes the demo volume folder
}


def _sources() -> Iterator[tuple[str, ast.Module, str]]:
    paths = [ROOT / "run.py"]
    for folder in ("app", "components", "engines"):
        paths += sorted((ROOT / folder).rglob("*.py"))
    for path in paths:
        text = path.read_text()
        yield str(path.relative_to(ROOT)), ast.parse(text), text


def _file_moves(tree: ast.Module) -> list[int]:
    """Lines calling ``os.replace``/``os.rename`` or a one-argument ``.replace``/``.rename`` (``Path``'s)."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name, owner = node.func.attr, node.func.value
        if name not in {"replace", "rename"}:
            continue
        on_os = isinstance(owner, ast.Name) and owner.id == "os"
        one_path = len(node.args) == 1 and not node.keywords
        if on_os or (one_path and not isinstance(node.args[0], (ast.List, ast.ListComp, ast.Tuple))):
            lines.append(node.lineno)
    return lines


def test_files_are_replaced_only_through_atomic_write():
    offenders = {
        name: lines
        for name, tree, _ in _sources()
        if name != "engines/_filesystem.py" and len(lines := _file_moves(tree)) > FOLDER_RENAMES.get(name, 0)
    }
    assert offenders == {}, f"write files with engines._filesystem.atomic_write, not a rename: {offenders}"


def test_only_the_workspace_db_connects_to_sqlite():
    offenders = sorted(
        name
        for name, _, text in _sources()
        if name != "engines/workspace_db.py"
        and ("sqlite3.connect" in text or "pragma journal_mode" in text.lower())
    )
    assert offenders == [], f"open SQLite through engines.workspace_db.WorkspaceDb: {offenders}"
