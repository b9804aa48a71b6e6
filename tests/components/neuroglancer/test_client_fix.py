"""The installed Neuroglancer client is served with its state-sync race mended (see client_fix.py)."""

from __future__ import annotations

import importlib.resources
import urllib.request

import neuroglancer

from components.neuroglancer.client_fix import PatchedClientSource, mend_state_sync
from components.neuroglancer.servers import neuroglancer_server_url

SYNC = (
    "if(200===r.status){let t=await r.json();this.lastServerState=i,this.lastServerGeneration=t.g,"
    "this.clientGeneration=e}else if(412===r.status);"
)


def _client_scripts() -> list[str]:
    folder = importlib.resources.files("neuroglancer.static").joinpath("client")
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".js"))


def test_an_answer_sets_the_generation_only_when_no_server_state_came_meanwhile():
    mended, found = mend_state_sync("a();" + SYNC + "b();")
    assert found
    assert mended == (
        "a();if(200===r.status){let t=await r.json();this.clientGeneration<e&&(this.lastServerState=i,"
        "this.lastServerGeneration=t.g,this.clientGeneration=e)}else if(412===r.status);b();"
    )


def test_code_without_the_sync_is_left_as_it_is():
    code = "if(200===r.status){let t=await r.json();this.other=t.g}"
    assert mend_state_sync(code) == (code, False)


def test_the_installed_client_is_found_and_mended_once():
    source = PatchedClientSource()
    mended = [name for name in _client_scripts() if b"this.clientGeneration<" in source.get_content(name)]
    assert source.found, "this neuroglancer release changed its state-sync code: check client_fix.py"
    assert len(mended) == 1, mended


def test_every_viewer_s_server_hands_out_the_mended_client():
    neuroglancer_server_url()  # installs the fix, starts the server
    viewer = neuroglancer.Viewer()
    page = urllib.request.urlopen(viewer.get_viewer_url(), timeout=30).read().decode()
    scripts = [part.split('"')[0] for part in page.split('src="')[1:]]
    bodies = [urllib.request.urlopen(viewer.get_viewer_url() + name, timeout=30).read() for name in scripts]
    assert any(b"this.clientGeneration<" in body for body in bodies)
    assert not any(mend_state_sync(body.decode())[1] for body in bodies)  # no unguarded sync is left
