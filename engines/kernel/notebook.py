"""Export a chat as a Jupyter notebook: its text as markdown cells, its code runs as code cells with their
outputs.

The notebook names the standard ``python3`` kernel, so it runs as it is in Jupyter, or
headless (``nbclient``); figures are kept as they were shown (PNG, Bokeh JSON and HTML).
``nbformat`` is imported when a notebook is built: its schema validator's import (jsonschema's format
checkers) took 5 s of the server's start-up, every start, for an export few sessions ask for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from engines._filesystem import atomic_write
from engines.kernel.results import CellResult

if TYPE_CHECKING:
    import nbformat

__all__ = [
    "NotebookEntry",
    "markdown_entry",
    "code_entry",
    "build_notebook",
    "notebook_bytes",
    "export_notebook",
]


@dataclass(frozen=True)
class NotebookEntry:
    """One cell to be: markdown text, or code with the result of its run (None: not run)."""

    kind: Literal["markdown", "code"]
    text: str
    result: CellResult | None = None


def markdown_entry(text: str, speaker: str = "") -> NotebookEntry:
    """A chat message as a markdown cell, e.g. ``markdown_entry("How many units?", "You")``."""
    return NotebookEntry("markdown", f"**{speaker}:** {text}" if speaker else text)


def code_entry(code: str, result: CellResult | None = None) -> NotebookEntry:
    return NotebookEntry("code", code, result)


def build_notebook(entries: Sequence[NotebookEntry], title: str = "") -> nbformat.NotebookNode:
    """A valid nbformat v4 notebook of the entries, in order (checked with ``nbformat.validate``)."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata.update(
        {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        }
    )
    if title:
        notebook.cells.append(nbformat.v4.new_markdown_cell(f"# {title}"))
    for entry in entries:
        if entry.kind == "markdown":
            notebook.cells.append(nbformat.v4.new_markdown_cell(entry.text))
            continue
        cell = nbformat.v4.new_code_cell(entry.text)
        if entry.result is not None:
            cell.execution_count = entry.result.execution_count
            cell.outputs = [nbformat.from_dict(output.to_json()) for output in entry.result.outputs]
            for output in cell.outputs:
                if output.output_type == "execute_result":
                    output.execution_count = entry.result.execution_count
        notebook.cells.append(cell)
    nbformat.validate(notebook)
    return notebook


def notebook_bytes(entries: Sequence[NotebookEntry], title: str = "") -> bytes:
    """The ``.ipynb`` file's bytes, built in memory: a download serves them as they are, with no file that
    another session's export could overwrite in between."""
    import nbformat

    text = nbformat.writes(build_notebook(entries, title))
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")


def export_notebook(entries: Sequence[NotebookEntry], path: Path | str, title: str = "") -> Path:
    """Write the notebook to ``path`` (a ``.ipynb`` file) atomically: a reader never sees half a file."""
    return atomic_write(path, notebook_bytes(entries, title))
