"""The viewer component is panel-neuroglancer's ``Neuroglancer``, adapted where the package as it is cannot
serve a shared app: each defect is shown on the package's own class, beside the adapted one."""

from __future__ import annotations

import threading
import time

import neuroglancer
import pytest
from panel_neuroglancer import Neuroglancer

from components.neuroglancer.viewer import NeuroglancerViewer

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # the package's own widgets

STATE = {
    "dimensions": {"x": [1e-9, "m"], "y": [1e-9, "m"], "z": [1e-9, "m"]},
    "position": [1.0, 2.0, 3.0],
    "layers": [],
}


@pytest.fixture
def ours():
    viewer = NeuroglancerViewer(STATE, debounce_s=0.1)
    yield viewer
    viewer.close()


def _user_moves(viewer: neuroglancer.Viewer, position: list[float]) -> None:
    """A pan in the browser: the client's change reaches the viewer on neuroglancer's server thread."""

    def move() -> None:
        with viewer.txn() as state:
            state.position = position

    thread = threading.Thread(target=move)
    thread.start()
    thread.join()


def test_the_package_s_iframe_points_at_the_loopback_server_ours_at_the_app_s_origin(ours):
    upstream = Neuroglancer(neuroglancer.Viewer())
    assert "127.0.0.1" in upstream.iframe.object or "localhost" in upstream.iframe.object  # the defect
    assert "127.0.0.1" not in ours.iframe.object and "localhost" not in ours.iframe.object
    assert f'src="./ngv/v/{ours.token}/"' in ours.iframe.object
    assert isinstance(ours, Neuroglancer)


def test_the_package_updates_its_panes_on_the_viewer_s_thread_ours_after_the_user_stops(ours):
    upstream = Neuroglancer(neuroglancer.Viewer())
    _user_moves(upstream.viewer, [5.0, 6.0, 7.0])
    assert upstream.json_pane.object["position"] == [
        5.0,
        6.0,
        7.0,
    ]  # changed from the server's thread at once

    _user_moves(ours.viewer, [5.0, 6.0, 7.0])
    assert ours.state["position"] == [1.0, 2.0, 3.0] and ours.user_changes == 0  # not on that thread
    deadline = time.monotonic() + 5
    while ours.user_changes == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ours.state["position"] == [5.0, 6.0, 7.0] and ours.user_changes == 1


def test_the_package_writes_links_into_html_unescaped_ours_shows_no_link_html(ours):
    upstream = Neuroglancer(neuroglancer.Viewer())
    crafted = 'https://x/#!"><img src=x onerror=alert(1)>'
    assert "<img src=x onerror=alert(1)>" in upstream._generate_dropdown_markup("Shareable URL", crafted)
    ours.url = crafted  # a link that is no state: ignored, nothing of it reaches any HTML
    assert "onerror" not in ours.iframe.object
    assert ours.state["position"] == [1.0, 2.0, 3.0]


def test_the_package_s_default_viewer_hands_out_credentials_ours_only_on_opt_in(ours):
    upstream = Neuroglancer()
    assert (
        upstream.viewer.allow_credentials is True
    )  # the defect: any browser may ask for the server's tokens
    assert ours.viewer.allow_credentials is False
    opted_in = NeuroglancerViewer(STATE, allow_credentials=True)
    try:
        assert opted_in.viewer.allow_credentials is True
    finally:
        opted_in.close()


def test_url_follows_the_state_both_ways(ours):
    assert neuroglancer.parse_url(ours.url).position.tolist() == [1.0, 2.0, 3.0]

    other = neuroglancer.ViewerState(STATE)
    other.position = [40.0, 50.0, 60.0]
    ours.url = neuroglancer.to_url(other)  # a link set from outside: the viewer shows it
    assert list(ours.viewer.state.position) == [40.0, 50.0, 60.0]
    assert ours.state["position"] == [40.0, 50.0, 60.0]

    ours.show_state({**STATE, "position": [8.0, 9.0, 10.0]})  # a tool's change: the link follows
    assert neuroglancer.parse_url(ours.url).position.tolist() == [8.0, 9.0, 10.0]

    _user_moves(ours.viewer, [11.0, 12.0, 13.0])  # the user's own pan: the link follows once they stop
    deadline = time.monotonic() + 5
    while neuroglancer.parse_url(ours.url).position.tolist() != [11.0, 12.0, 13.0]:
        assert time.monotonic() < deadline, ours.url
        time.sleep(0.02)
