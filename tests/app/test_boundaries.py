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
