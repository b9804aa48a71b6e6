"""Each cross-cutting concern has one home: file replacement, SQLite connections, error classes."""

from __future__ import annotations

import ast
import builtins
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


# Exception classes no code catches by name, kept for a reason other than being caught.
# Any other class a caller never tells apart is raised as its base, with a message that says what to do.
UNCAUGHT_BUT_KEPT = {
    # Typed user errors the style guide names, and a domain's root that its subclasses share.
    "UploadTooLarge": "typed user error (STYLE.md)",
    "NwbOpenError": "typed user error (STYLE.md); callers catch its base, engines.io.SourceError",
    "AnalyzerOpenError": "typed open error, like NwbOpenError",
    "SqlRefused": "a refused query (PermissionError): security tests and logs tell it from a failed one",
    "TableError": "root of the tables engine",
    "DataError": "training: the data cannot be used (ValueError)",
    "ConfigError": "training: the configuration cannot be used (ValueError)",
    "ProductInputError": "NWB products: the inputs cannot make the product (ValueError)",
    "ProductNotFound": "NWB products: nothing computed yet (FileNotFoundError)",
    "InvalidRequest": "NWB extraction: arguments that cannot be served (ValueError)",
    "UnsupportedData": "NWB extraction: data of a shape no view handles (ValueError)",
    # Their type name reaches the chat (ErrorEvent.error_type) and ``retryable`` differs.
    "LlmBadResponse": "shown by type name in the chat",
    "LlmRateLimited": "shown by type name in the chat",
    "LlmServerError": "shown by type name in the chat",
    "LlmTimeout": "shown by type name in the chat; a TimeoutError",
    "MissingExtensions": "carries .missing, which the curation page reads",
    "ToolDefinitionError": "a programming error in a toolset (TypeError), never a user's",
    # A builtin base (KeyError, ValueError, ConnectionError) that generic callers catch.
    "ConversationNotFound": "KeyError",
    "StateNotFound": "KeyError",
    "LayerNotFound": "KeyError",
    "TableNotFound": "KeyError",
    "ColumnNotFound": "KeyError",
    "JobNotFound": "KeyError",
    "UnknownJobKind": "KeyError",
    "InvalidJobRequest": "ValueError",
    "ReplyParseError": "ValueError: engines.agent.images asks the model again on one",
    "BackendUnavailable": "ConnectionError",
    "ChildProcessFailed": "RuntimeError carrying the child's traceback text",
    # Reading errors each engine states in its own terms (engines.io raises the generic ones).
    "DandiRequestError": "a malformed identifier, version or page (ValueError), not an archive failure",
    "EdfOpenError": "typed open error, like NwbOpenError",
    "EdfRequestError": "EDF: arguments the file cannot serve (ValueError), like InvalidRequest",
    "ObjectNotFound": "KeyError (no object at a path in the file), shown without KeyError's quotes",
    "PointerError": "ngstate: a pointer state could not be fetched (engines.io's errors, in its terms)",
    "VolumeTooLarge": "ngstate: a read refused for its size before any read (ValueError, not OSError)",
    "BytesPending": "a signal through h5py's read callback: h5py re-raises it as its own error, so "
    "batch_reads detects it by the batch's miss count, never by name",
    "KernelStartError": "no kernel could start (OSError); the NWB assistant page raises it too",
}


def _names(node: ast.expr) -> Iterator[str]:
    if isinstance(node, ast.Tuple):
        for element in node.elts:
            yield from _names(element)
    elif isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.Attribute):
        yield node.attr


def _exception_classes() -> tuple[dict[str, list[str]], set[str]]:
    """Classes defined in the source that derive from an exception, with their bases; names caught by name."""
    bases: dict[str, list[str]] = {}
    caught: set[str] = set()
    for _, tree, _ in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = [name for base in node.bases for name in _names(base)]
            elif isinstance(node, ast.ExceptHandler) and node.type is not None:
                caught |= set(_names(node.type))
            elif isinstance(node, ast.Call) and getattr(node.func, "id", "") in {"isinstance", "issubclass"}:
                caught |= set(_names(node.args[1])) if len(node.args) == 2 else set()

    def is_exception(name: str, seen: frozenset[str] = frozenset()) -> bool:
        builtin = getattr(builtins, name, None)
        if isinstance(builtin, type) and issubclass(builtin, BaseException):
            return True
        return name in bases and name not in seen and any(is_exception(b, seen | {name}) for b in bases[name])

    return {n: b for n, b in bases.items() if is_exception(n)}, caught


def test_every_error_class_is_told_apart_by_a_caller():
    classes, caught = _exception_classes()
    needed = set()
    for name in caught & set(classes):
        stack = [name]
        while stack:
            current = stack.pop()
            if current in classes and current not in needed:
                needed.add(current)
                stack += classes[current]
    uncut = sorted(set(classes) - needed - set(UNCAUGHT_BUT_KEPT))
    assert uncut == [], f"no caller catches these by name: raise their base with a clear message: {uncut}"
    stale = sorted(set(UNCAUGHT_BUT_KEPT) - (set(classes) - needed))
    assert stale == [], f"caught by name now, or gone: drop them from UNCAUGHT_BUT_KEPT: {stale}"
