"""A session's viewer state: edits from any thread, undo, and the viewer's reports merged without losing
keys."""

from __future__ import annotations

import threading

from engines.ngstate import NgState, set_visibility, zoom_by
from engines.ngstate.session import ViewerSession, merge_viewer_state

STATE = {
    "dimensions": {"x": [5e-7, "m"], "y": [5e-7, "m"], "t": [1, "s"], "z": [5e-7, "m"]},
    "position": [1, 2, 3, 4],
    "crossSectionScale": 1,
    "myLabKey": {"kept": True},
    "layers": [
        {
            "type": "image",
            "source": "precomputed://x",
            "name": "em",
            "shaderControls": {"normalized": {}},
            "labExtra": 7,
        },
        {"type": "segmentation", "source": "precomputed://y", "name": "seg"},
    ],
    "layout": "xy",
}


def test_what_the_viewer_reports_is_merged_keeping_unknown_keys_and_order():
    reported = {
        "dimensions": STATE["dimensions"],
        "position": [10, 20, 3, 40],
        "crossSectionScale": 2.5,
        "layers": [
            {"type": "image", "source": "precomputed://x", "name": "em", "visible": False},
            {"type": "annotation", "source": "local://annotations", "name": "drawn"},
        ],
        "layout": "xy-3d",
        "selectedLayer": {"layer": "em"},
    }
    merged = merge_viewer_state(NgState(STATE), reported)
    assert merged.keys() == [
        "dimensions",
        "position",
        "crossSectionScale",
        "myLabKey",
        "layers",
        "layout",
        "selectedLayer",
    ]
    assert merged.position == {"x": 10, "y": 20, "t": 3, "z": 40}
    assert merged.layer("em")["labExtra"] == 7 and merged.layer("em")["visible"] is False
    assert merged.layer_names == ["em", "drawn"]  # the user deleted 'seg' and drew a new layer
    assert merged.get("myLabKey") == {"kept": True}


def test_edits_undo_and_listeners():
    session = ViewerSession(NgState(STATE))
    heard = []
    session.on_change(lambda state, reason: heard.append((reason, state.cross_section_scale)))
    session.update(lambda s: zoom_by(s, 2), "zoom")
    session.update(lambda s: set_visibility(s, "seg", False), "hide")
    assert [r for r, _ in heard] == ["zoom", "hide"] and heard[0][1] == 0.5
    assert session.undo().layer("seg").get("visible", True) is True
    session.absorb_viewer({"position": [9, 9, 9, 9]})  # the viewer's own report is not echoed back
    assert [r for r, _ in heard] == ["zoom", "hide", "undo"]
    assert session.state.position["x"] == 9


def test_concurrent_edits_are_never_lost():
    session = ViewerSession(NgState(STATE))
    threads = [
        threading.Thread(target=lambda: [session.update(lambda s: zoom_by(s, 2), "zoom") for _ in range(25)])
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert session.state.cross_section_scale == 2.0**-100
