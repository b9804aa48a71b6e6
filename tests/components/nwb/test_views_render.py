"""Every view that picks an object renders it, for every object of every real test file, over HTTP.

Rendering goes all the way to Bokeh models (``get_root``), so plot callbacks run too. A view
may refuse an object only with a typed error whose message a person can act on.
"""

from __future__ import annotations

import panel as pn
import pytest

from components.nwb.views import RawHdf5View, views_for
from engines.errors import NeurodeckError
from engines.nwb.nwbfile import NwbFile, open_nwb
from tests.conftest import ALL_NWB_FILES, DATA_DIR


def _render_all(nwb: NwbFile) -> tuple[int, list[tuple[str, str, str]]]:
    rendered, refused = 0, []
    for info in nwb.index.objects.values():
        for view in views_for(nwb.index, info.path):
            if view is RawHdf5View and info.path != "/":
                continue  # index-only; covered once per file
            try:
                pn.panel(view(nwb, info.path).__panel__()).get_root()
                rendered += 1
            except NeurodeckError as exc:
                assert str(exc), f"{view.id} on {info.path} refused without a message"
                refused.append((view.id, info.path, str(exc)))
    return rendered, refused


@pytest.mark.parametrize("name", [str(p.relative_to(DATA_DIR)) for p in ALL_NWB_FILES])
def test_every_view_renders_every_object_it_claims(name, range_server, policy, index_store):
    nwb = open_nwb(range_server.url_for(name), policy, index_store)
    try:
        rendered, refused = _render_all(nwb)
    finally:
        nwb.close()
    assert rendered >= 2
    assert len(refused) <= rendered, refused
