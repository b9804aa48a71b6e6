"""``nwb_figure`` in a real notebook executed headless (nbclient + a real kernel): the view renders inline."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from tests.conftest import DATA_DIR

DEMO = DATA_DIR / "sub-4_ses-4_ecephys+image.nwb"


def test_a_notebook_shows_an_nwb_view_inline(tmp_path, range_server):
    url = range_server.url_for(DEMO.name)
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("from neurodeck import nwb_figure"),
            nbformat.v4.new_code_cell(
                f"figure = nwb_figure({url!r}, '/units', t0=100, t1=110, units=[0, 1, 2], "
                f"workspace={str(tmp_path / 'ws')!r})\nfigure"
            ),
            nbformat.v4.new_code_cell(
                "events = nwb_figure(" + repr(url) + ", '/acquisition/events', "
                f"workspace={str(tmp_path / 'ws')!r})\n"
                "print(type(events).__name__, len(events))"
            ),
        ]
    )
    NotebookClient(
        notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [
        o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"
    ]
    assert errors == []
    shown = notebook.cells[1].outputs
    mimes = {mime for output in shown for mime in output.get("data", {})}
    assert "application/vnd.holoviews_exec.v0+json" in mimes  # a live Panel view, not a static picture
    rendered = " ".join(str(output.get("data", {})) for output in shown)
    assert (
        "100.00 \\\\u2013 110.00 s" in rendered and "3 picked unit(s)" in rendered
    )  # the window and units asked for
    printed = "".join(o["text"] for o in notebook.cells[2].outputs if o.get("output_type") == "stream")
    assert printed.startswith("Column ")
