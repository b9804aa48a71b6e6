"""A server process that still has remote files open in views exits cleanly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from pathlib import Path
import panel as pn
from components.nwb.views import views_for
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb
from engines.io.policy import SourcePolicy
policy = SourcePolicy(workspace=Path(sys.argv[2]), allow_private_urls=True)
nwb = open_nwb(sys.argv[1], policy, IndexStore(policy.workspace))
for path in ("/units", "/acquisition/events", "/intervals/encoding_table"):
    for view in views_for(nwb.index, path):
        pn.panel(view(nwb, path).__panel__()).get_root()
print("rendered")
"""


def test_views_left_open_on_a_remote_file_do_not_crash_the_exit(range_server, workspace):
    """HDF5 closes forgotten files at exit through their Python reader: that must happen while Python still
    can."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, range_server.url_for("sub-4_ses-4_ecephys+image.nwb"), str(workspace)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.stdout.strip().endswith("rendered")
    assert done.returncode == 0, done.stderr[-2000:]
