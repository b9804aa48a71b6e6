"""A chat exported to a notebook runs headless (nbclient) and shows what the chat showed; the engines work
there."""

from __future__ import annotations

import base64

import nbformat
import pytest
from nbclient import NotebookClient

from engines.kernel import KernelLimits, LocalKernel, code_entry, export_notebook, markdown_entry
from tests.conftest import DATA_DIR

DEMO = DATA_DIR / "sub-4_ses-4_ecephys+image.nwb"

READ_WITH_THE_ENGINES = f"""
from pathlib import Path
import tempfile
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb
from engines.io.policy import SourcePolicy
from engines.nwb.extract import read_events, robust_time_range
folder = Path(tempfile.mkdtemp())
nwb = open_nwb(
    {str(DEMO)!r},
    SourcePolicy(workspace=folder, allowed_roots=(Path({str(DATA_DIR)!r}),)),
    IndexStore(folder),
)
span = robust_time_range(nwb, "/acquisition/events")
events = read_events(nwb, "/acquisition/events", 0.0, 60.0)
print(span.n_before, round(span.start, 3), len(events.times), sorted(set(events.codes.tolist()))[:3])
"""


@pytest.fixture(scope="module")
def chat_runs():
    kernel = LocalKernel(KernelLimits(time_s=120.0, memory_mb=0))
    try:
        entries = [
            markdown_entry("What does a sine look like?", "You"),
            code_entry("import numpy as np\nvalues = np.sin(np.linspace(0, 3, 4)).round(3)\nprint(values)"),
            markdown_entry("Here is the plot.", "Assistant"),
            code_entry("import matplotlib.pyplot as plt\nplt.plot(values)\nplt.show()"),
            code_entry(READ_WITH_THE_ENGINES),
        ]
        ran = [code_entry(e.text, kernel.run(e.text)) if e.kind == "code" else e for e in entries]
    finally:
        kernel.shutdown()
    return ran


def test_export_keeps_cells_outputs_and_figures(chat_runs, tmp_path):
    path = export_notebook(chat_runs, tmp_path / "chat.ipynb", title="Chat about sines")
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds == ["markdown", "markdown", "code", "markdown", "code", "code"]
    assert notebook.cells[1].source == "**You:** What does a sine look like?"
    printed = notebook.cells[2].outputs[0]
    assert printed.output_type == "stream" and printed.text.startswith("[0.    0.841")
    assert base64.b64decode(notebook.cells[4].outputs[0].data["image/png"]).startswith(b"\x89PNG")
    assert notebook.cells[4].execution_count == chat_runs[3].result.execution_count
    assert not list(tmp_path.glob(".*partial")), "written atomically"


def test_exported_notebook_runs_headless_with_the_same_results(chat_runs, tmp_path):
    path = export_notebook(chat_runs, tmp_path / "chat.ipynb")
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code[0].outputs[0].text == chat_runs[1].result.stdout
    assert "image/png" in code[1].outputs[0].data
    assert code[2].outputs[0].text == chat_runs[4].result.stdout
    assert code[2].outputs[0].text.startswith("1 0.0 "), (
        "the engines read the demo file's events in a notebook"
    )
