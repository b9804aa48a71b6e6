"""Architecture rules: engines stay headless, components never reach into the app layer."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UI_MODULES = {"panel", "bokeh", "holoviews", "hvplot"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_engines_never_import_ui_libraries():
    offenders = {str(p.relative_to(ROOT)): _imports(p) & UI_MODULES for p in (ROOT / "engines").rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_engines_and_components_never_import_the_app_layer():
    for folder in ("engines", "components"):
        offenders = [str(p.relative_to(ROOT)) for p in (ROOT / folder).rglob("*.py") if "app" in _imports(p)]
        assert offenders == [], f"{folder} imports app/: {offenders}"


def test_engines_never_import_components():
    offenders = [
        str(p.relative_to(ROOT)) for p in (ROOT / "engines").rglob("*.py") if "components" in _imports(p)
    ]
    assert offenders == []


MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
TOOL_TABLES = {"build_nwb_tools", "build_table_tools", "build_viewer_tools"}
"""Functions that are tables of agent tools (one decorated function per tool): long by nature, and
read one tool at a time."""


def _code_files() -> list[Path]:
    files = [ROOT / "run.py"]
    for folder in ("app", "components", "engines", "neurodeck"):
        files += sorted((ROOT / folder).rglob("*.py"))
    return files


def test_modules_and_functions_stay_small_enough_to_read():
    too_long: list[str] = []
    for path in _code_files():
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(ROOT))
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name not in TOOL_TABLES:
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    assert too_long == [], (
        f"split these (a module over {MAX_MODULE_LINES}, a function over {MAX_FUNCTION_LINES})"
    )
