"""Only ``engines/io`` talks to the network: every other module reads remote bytes through it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
NETWORK_MODULES = ("requests", "urllib.request", "http.client", "boto3", "google.cloud")
"""Libraries that open connections on their own; a module importing one would bypass the source policy."""


def _network_imports(path: Path) -> set[str]:
    """The network libraries ``path`` imports, in any form (``import x``, ``import x.y``, ``from x import
    y``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {m for m in NETWORK_MODULES for name in names if name == m or name.startswith(m + ".")}
    return found


def _modules_outside_io() -> list[Path]:
    files = [ROOT / "run.py"]
    for folder in ("app", "components", "engines"):
        files += sorted((ROOT / folder).rglob("*.py"))
    return [p for p in files if not p.is_relative_to(ROOT / "engines" / "io")]


def test_only_engines_io_imports_network_libraries():
    offenders = {str(p.relative_to(ROOT)): sorted(_network_imports(p)) for p in _modules_outside_io()}
    assert {k: v for k, v in offenders.items() if v} == {}, "import engines.io instead"


def test_the_boundary_check_sees_every_import_form(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import requests\nimport http.client as hc\nfrom urllib import request\n"
        "from google.cloud import storage\nimport boto3.session\nimport urllib.parse\n"
    )
    assert _network_imports(sample) == {"requests", "http.client", "urllib.request", "google.cloud", "boto3"}
