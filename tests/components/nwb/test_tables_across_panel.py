"""The "Tables across files" panel, rendered to Bokeh models: it reads, lists the files left out, pages,
runs checked SQL (refusals shown, not raised) and charts; a link naming a table opens and reads it."""

from __future__ import annotations

from pathlib import Path

import panel as pn
import param
import pytest

from components.background import BackgroundWork
from components.nwb.tables_across import TablesAcross, across_card
from engines.io.policy import SourcePolicy
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb
from engines.nwb.tables_across import list_sources
from tests.support.nwb_files.session_tables import write_session_tables_nwb


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("study")
    for seed in range(2):
        write_session_tables_nwb(folder / f"s{seed}.nwb", seed=seed, units=12, trials=8)
    (folder / "empty.nwb").write_bytes(b"")
    return folder


def _panel(folder: Path, workspace: Path) -> TablesAcross:
    policy = SourcePolicy(workspace=workspace, allowed_roots=(folder,))
    store = IndexStore(workspace)
    return TablesAcross(
        lambda s: open_nwb(s, policy, store),
        lambda t: list_sources(t, policy),
        BackgroundWork(),
        max_rows=100,
    )


def test_reads_pages_queries_and_charts(study, workspace):
    panel = _panel(study, workspace)
    panel.open_link("/units", str(study))
    assert panel.status.object.startswith("24 rows from 2 of 3 files; 1 left out.")
    assert list(panel.errors.value["file"]) == [str(study / "empty.nwb")]
    assert dict(zip(panel.file_states.value["file"], panel.file_states.value["state"])) == {
        str(study / "empty.nwb"): "failed",
        str(study / "s0.nwb"): "read",
        str(study / "s1.nwb"): "read",
    }
    assert "spike_times" not in panel.frame.columns and "spike_times_count" in panel.frame.columns
    assert len(panel.paged.table.value) == 20  # the first page of 24 rows
    panel.paged._next.clicks += 1  # Next
    assert list(panel.paged.table.value["_table_row"]) == [8, 9, 10, 11]  # rows 21-24: the end of s1
    panel.paged._prev.clicks += 1
    assert len(panel.paged.table.value) == 20
    panel.plot()
    assert isinstance(panel.chart[0], pn.pane.HoloViews)
    panel.sql.value = "SELECT quality, sum(spike_times_count) AS spikes FROM across GROUP BY quality"
    panel.run_sql()
    assert panel.result is not None and panel.result["spikes"].sum() == panel.frame["spike_times_count"].sum()
    panel.sql.value = "SELECT * FROM read_csv('/etc/passwd')"
    panel.run_sql()
    assert "reads files on the server" in panel.sql_result[0].object
    pn.panel(panel).get_root()


def test_list_columns_on_request_and_a_bad_folder_is_a_message(study, workspace):
    panel = _panel(study, workspace)
    panel.lists.value = True
    panel.open_link("/units", str(study))
    assert panel.frame["spike_times"].list.len().to_list() == panel.frame["spike_times_count"].to_list()
    assert panel.paged.table.value["spike_times"].iloc[0].startswith("[")  # lists shown as short text
    panel.open_link("/units", "/etc")
    assert "outside the folders" in panel.message[0].object
    assert panel.read_button.disabled is False


class _Link(param.Parameterized):
    across = param.String(default="")
    files = param.String(default="")


def test_the_card_follows_the_link_both_ways(study, workspace):
    link = _Link(across="/intervals/trials", files=str(study))
    built: list[TablesAcross] = []

    def make() -> TablesAcross:
        built.append(_panel(study, workspace))
        return built[-1]

    card = across_card(make, link)
    assert card.collapsed is False and built[0].frame.height == 16
    built[0].table.value = "/units"
    built[0].read()
    assert (link.across, link.files) == ("/units", str(study))
    assert built[0].frame.height == 24 and len(built) == 1
