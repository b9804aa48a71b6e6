"""The command line a newcomer meets first: ``--help`` names every sub-command, each answers ``--help``,
and the installed ``neurodeck`` script is the same program as ``python run.py``."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = ("worker", "queue", "curate", "train", "evaluate", "passwd")


def _help(*argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "run.py", *argv], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_help_lists_every_sub_command_with_a_line_each():
    text = _help("--help")
    listed = text.split("sub-commands", 1)[1].splitlines()[1:]
    names = [line.split()[0] for line in listed if line.startswith("  ") and line.strip()]
    assert names == list(EXPECTED)
    assert all(len(line.split()) > 3 for line in listed if line.strip())  # a summary, not a bare name


@pytest.mark.parametrize("name", EXPECTED)
def test_each_sub_command_answers_help(name: str):
    assert f"neurodeck {name}" in _help(name, "--help")


def test_the_installed_script_is_the_same_cli():
    (script,) = entry_points(group="console_scripts", name="neurodeck")
    assert script.value == "app.cli:main"
    installed = Path(sys.executable).with_name("neurodeck")
    if not installed.exists():
        pytest.skip("the project is not installed in this environment (pip install -e .)")
    done = subprocess.run([installed, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout == _help("--help")
