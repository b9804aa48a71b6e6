"""The Neuroglancer + chat page in headless Chromium with the real Neuroglancer client (WebGL via
SwiftShader)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

ROIS = Path(__file__).resolve().parents[2] / "assets" / "demo_rois.csv"
CHAT = re.compile(r"^e\.g\. go to")


@pytest.fixture
def page(webgl_page: Page) -> Page:
    """The viewer draws with WebGL: these pages run in the browser that has it (SwiftShader)."""
    return webgl_page


class ViewerProbe:
    """Reads the real Neuroglancer client's state inside its iframe (``viewer`` is the client's global)."""

    def __init__(self, page: Page) -> None:
        self._body = page.frame_locator("iframe[title='Neuroglancer viewer']").first.locator("body")

    def state(self) -> dict:
        text = self._body.evaluate(
            "() => typeof viewer === 'undefined' ? '{}' : JSON.stringify(viewer.state.toJSON())"
        )
        return json.loads(text)

    def run(self, script: str) -> None:
        """Run ``script`` (a JS function) in the viewer's page, as the user's own change would."""
        self._body.evaluate(script)

    def wait(self, check, timeout_s: float = 20) -> dict:
        deadline = time.time() + timeout_s
        while True:
            state = self.state()
            if check(state) or time.time() > deadline:
                return state
            time.sleep(0.2)


def _say(page: Page, text: str) -> None:
    box = page.get_by_placeholder(CHAT)
    box.fill(text)
    box.press("Enter")
    expect(page.get_by_text(text, exact=True).first).to_be_visible()


def _open(page: Page, app_url: str, query: str = "") -> ViewerProbe:
    page.goto(app_url + "?page=neuroglancer" + query)
    expect(page.get_by_placeholder(CHAT)).to_be_visible(timeout=60_000)
    viewer = ViewerProbe(page)
    assert "position" in viewer.wait(lambda s: "position" in s, timeout_s=60), (
        "the viewer did not load its state"
    )
    return viewer


def test_a_chat_command_moves_the_real_viewer(page: Page, app_url: str):
    frame = _open(page, app_url)
    before = frame.state()
    assert before["position"] == [64, 64, 24] and [layer["name"] for layer in before["layers"]] == [
        "image",
        "segmentation",
    ]
    _say(page, "go to 60 40 20 and zoom in")
    state = frame.wait(lambda s: s["position"] == [60, 40, 20])
    assert state["position"] == [60, 40, 20]
    assert state["crossSectionScale"] == pytest.approx(before["crossSectionScale"] / 2, rel=1e-3)
    expect(page.get_by_text("Zoomed by 2").first).to_be_visible(timeout=30_000)  # the turn's answer, then:
    expect(page.get_by_role("button", name="Stop", exact=True).first).to_be_disabled(timeout=10_000)
    _say(page, "hide the segmentation")
    state = frame.wait(lambda s: s["layers"][1].get("visible") is False)
    assert state["layers"][1].get("visible") is False


def test_a_pan_in_the_viewer_is_seen_by_the_agent(page: Page, app_url: str):
    frame = _open(page, app_url)
    box = page.locator("iframe.nd-ng-frame, iframe").first.bounding_box()
    x, y = box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.5
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 120, y + 60, steps=10)
    page.mouse.up()
    moved = frame.wait(lambda s: s["position"] != [64, 64, 24])["position"]
    assert moved != [64, 64, 24]
    page.wait_for_timeout(1800)  # the viewer reports the user's moves after 1 s without change
    _say(page, "describe the view")
    expect(
        page.get_by_text(re.compile(rf"Position: x={moved[0]:.6g}, y={moved[1]:.6g}")).first
    ).to_be_visible()


def test_a_multiview_row_click_loads_its_view(page: Page, app_url: str):
    frame = _open(page, app_url)
    _say(page, "top 5 cells by volume_um3")
    table = page.locator(".nd-multiview")
    expect(table.get_by_text("393.75").first).to_be_visible()  # the biggest cell's volume, ranked first
    first = frame.wait(lambda s: s["position"] != [64, 64, 24])  # the first row opened by itself
    assert first["position"] == pytest.approx([32.59, 95.47, 11.96], abs=0.01)
    table.get_by_text("372.0", exact=True).click()  # the third row: cell 13
    third = frame.wait(lambda s: s["position"] != first["position"])
    assert third["position"] == pytest.approx([108.48, 100.56, 32.91], abs=0.01)
    segmentation = next(layer for layer in third["layers"] if layer["name"] == "segmentation")
    assert segmentation["segments"] == ["13"]


def test_a_state_link_opens_that_state_and_a_bad_one_says_why(page: Page, app_url: str):
    state = {
        "dimensions": {"x": [5e-7, "m"], "y": [5e-7, "m"], "z": [5e-7, "m"]},
        "position": [10, 11, 12],
        "crossSectionScale": 0.5,
        "layers": [  # a volume that is not there, under a name that is markup: said in the chat, as text
            {"type": "image", "source": f"precomputed://{app_url}ngdemo/missing", "name": "<b>gone</b>"}
        ],
        "layout": "xy",
    }
    frame = _open(page, app_url, "&state=" + quote("#!" + json.dumps(state)))
    assert frame.wait(lambda s: s["position"] == [10, 11, 12])["position"] == [10, 11, 12]
    expect(
        page.get_by_text(
            re.compile(r"The viewer cannot load layer '<b>gone</b>': .*info file is missing")
        ).first
    ).to_be_visible()
    page.goto(app_url + "?page=neuroglancer&state=" + quote("#!{not json"))
    expect(page.get_by_text(re.compile("not valid JSON")).first).to_be_visible(timeout=60_000)


def test_two_sessions_never_see_each_others_tables_chats_or_views(
    webgl_browser, app_url: str, tmp_path: Path
):
    first, second = (
        webgl_browser.new_context(viewport={"width": 1600, "height": 1100}),
        webgl_browser.new_context(viewport={"width": 1600, "height": 1100}),
    )
    try:
        a, b = first.new_page(), second.new_page()
        frame_a, frame_b = _open(a, app_url), _open(b, app_url)
        upload = tmp_path / "my_cells.csv"
        upload.write_text("id,x,y,z,score\n1,5,6,7,0.5\n2,50,60,20,0.9\n")
        a.locator("input[type=file]").first.set_input_files(str(upload))
        expect(a.get_by_text(re.compile(r"my_cells\.csv → table"))).to_be_visible()
        _say(a, "go to 1 2 3")
        frame_a.wait(lambda s: s["position"] == [1, 2, 3])
        _say(b, "list the tables")
        expect(b.get_by_text(re.compile(r"^rois: 24 rows")).first).to_be_visible()
        expect(b.get_by_text("my_cells", exact=False)).to_have_count(0)
        expect(b.get_by_text("go to 1 2 3")).to_have_count(0)
        assert frame_b.state()["position"] == [64, 64, 24]
        expect(a).to_have_url(re.compile(r"chat=[0-9a-f]+"))  # a reload or a bookmark reopens this chat
        a.reload()
        expect(a.get_by_text("go to 1 2 3", exact=True).first).to_be_visible(timeout=60_000)
    finally:
        first.close()
        second.close()


@pytest.fixture(scope="module")
def model_app(tmp_path_factory, nwb_data_dir):
    """The app with an OpenAI-compatible endpoint: a scripted "model" that moves the view, then answers."""

    from tests.browser.conftest import served_app
    from tests.support.openai_server import ScriptedOpenAIServer, ScriptedReply, ToolCall

    def respond(request: dict) -> ScriptedReply:
        if request["messages"][-1]["role"] == "tool":
            return ScriptedReply("I moved the view to the cell you asked for.")
        return ScriptedReply(tool_calls=[ToolCall("go_to", {"position": {"x": 33, "y": 44}})])

    with ScriptedOpenAIServer(responder=respond) as server:
        model = {
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "test-key",
            "NEURODECK_LLM_MODEL": "scripted",
        }
        with served_app(tmp_path_factory.mktemp("model-app"), root=nwb_data_dir, env=model) as (url, _port):
            yield url, server


def test_a_model_behind_an_openai_compatible_endpoint_moves_the_viewer(page: Page, model_app):
    url, server = model_app
    viewer = _open(page, url)
    expect(page.get_by_text(re.compile(r"scripted at http://127\.0\.0\.1")).first).to_be_visible()
    _say(page, "please take me to the cell near the top left")
    assert viewer.wait(lambda s: s["position"][:2] == [33, 44])["position"] == [33, 44, 24]
    expect(page.get_by_text("I moved the view to the cell you asked for.").first).to_be_visible()
    sent = server.requests[0]
    assert sent["stream"] is True and sent["model"] == "scripted"
    assert any("Position: x=64, y=64, z=24" in str(m.get("content")) for m in sent["messages"])


def test_the_screenshot_tool_shows_the_viewer_picture_in_the_chat(page: Page, app_url: str):
    _open(page, app_url)
    _say(page, "take a screenshot")
    picture = page.locator(".nd-chat-image img[src^='data:image/png']").first
    expect(picture).to_be_visible(timeout=60_000)  # the client answers once the demo volume has loaded
    assert picture.evaluate("img => img.naturalWidth") > 0
    line = page.get_by_text(re.compile(r"Screenshot \d+x\d+ px")).first
    expect(line).to_be_visible()
    found = re.search(
        r"Screenshot (\d+)x(\d+) px: .*?([\d.]+)% of pixels are not background", line.inner_text()
    )
    assert found is not None, line.inner_text()
    width, height, foreground = int(found[1]), int(found[2]), float(found[3])
    assert 0 < width <= 1024 and 0 < height <= 1024
    assert foreground > 1, "the demo volume should fill part of the picture"


def test_a_table_shown_in_the_viewer_links_its_rows_and_annotations_both_ways(page: Page, app_url: str):
    frame = _open(page, app_url)
    _say(page, "show the table rois in the viewer coloured by volume_um3")
    shown = frame.wait(lambda s: any(layer["name"] == "rois" for layer in s["layers"]))
    layer = next(layer for layer in shown["layers"] if layer["name"] == "rois")
    assert len(layer["annotations"]) == 24 and layer["annotations"][12]["id"] == "row-13"
    assert layer["annotationProperties"][0] == {
        "id": "color",
        "type": "rgb",
        "default": "#ffff00",
        "description": "volume_um3",
    }
    assert "prop_color()" in layer["shader"]
    # table -> viewer: a row's click centres the viewer on its annotation, selected, with its segment
    table = page.locator(".nd-table-layer")
    table.get_by_text("372.0", exact=True).click()  # cell 13's volume
    moved = frame.wait(lambda s: s["position"] != shown["position"])
    assert moved["position"] == pytest.approx([108.48, 100.56, 32.91], abs=0.01)
    assert moved["selection"]["layers"]["rois"]["annotationId"] == "row-13"
    assert next(x for x in moved["layers"] if x["name"] == "segmentation")["segments"] == ["13"]
    selected = table.locator(".tabulator-row.tabulator-selected")
    expect(selected).to_contain_text("372.0")
    # viewer -> table: the user picks cell 2's point in the viewer
    _say(page, "go to 82.08 72.45 9.3")  # cell 2's point under the panel's centre
    frame.wait(lambda s: s["position"] == pytest.approx([82.08, 72.45, 9.3], abs=0.01))
    _pin_the_point_under_the_centre(page, frame, "row-2")
    expect(selected).to_contain_text("137.875", timeout=15_000)  # cell 2's volume, after the debounce
    expect(selected).to_have_count(1)


def _pin_the_point_under_the_centre(page: Page, frame: ViewerProbe, annotation_id: str) -> None:
    """Control + right click toggles neuroglancer's pinned selection (the state's "selection"): when
    something is pinned the first click unpins it and the second pins the point under the mouse."""
    viewer = page.frame_locator("iframe[title='Neuroglancer viewer']").first
    box = viewer.locator(".neuroglancer-rendered-data-panel").first.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 20, y)
    page.mouse.move(x, y, steps=5)
    page.wait_for_timeout(1000)  # the client picks what is under the mouse on its next frame

    def pinned(state: dict) -> bool:
        return annotation_id in json.dumps(state.get("selection"))

    for _ in range(2):
        page.keyboard.down("Control")
        page.mouse.click(x, y, button="right")
        page.keyboard.up("Control")
        if pinned(frame.wait(pinned, timeout_s=1)):
            break
    picked = frame.wait(pinned)
    assert picked["selection"]["layers"]["rois"]["annotationId"] == annotation_id, picked.get("selection")


def test_a_pick_made_after_a_tool_moved_the_view_reaches_the_app_even_when_the_server_was_slow(
    page: Page, app_url: str
):
    """The client's state-sync race (components/neuroglancer/client_fix.py): the answer to one of the
    viewer's state updates is held back while a chat tool moves the view; the user's next pick must
    still reach the app (it selects the table's row), not be refused for good."""
    frame = _open(page, app_url)
    _say(page, "show the table rois in the viewer coloured by volume_um3")
    frame.wait(lambda s: any(layer["name"] == "rois" for layer in s["layers"]))
    answers: list[int] = []
    page.on("response", lambda r: answers.append(r.status) if "/ngv/state/" in r.url else None)
    held: list = []

    def hold_the_first(route) -> None:
        response = route.fetch()  # the server has taken the update; only its answer is late
        if held:
            route.fulfill(response=response)
        else:
            held.append((route, response))

    page.route("**/ngv/state/**", hold_the_first)
    frame.run(  # the user pans: the client sends its state
        "() => { const s = viewer.state.toJSON(); s.position = [60, 40, 10]; viewer.state.restoreState(s); }"
    )
    deadline = time.time() + 10
    while not held and time.time() < deadline:
        page.wait_for_timeout(100)
    assert held, "the client sent no state update"
    _say(page, "go to 82.08 72.45 9.3")  # the tool moves the view while the answer is still out
    frame.wait(lambda s: s["position"] == pytest.approx([82.08, 72.45, 9.3], abs=0.01))
    route, response = held[0]
    route.fulfill(response=response)
    _pin_the_point_under_the_centre(page, frame, "row-2")
    selected = page.locator(".nd-table-layer").locator(".tabulator-row.tabulator-selected")
    expect(selected).to_contain_text("137.875", timeout=15_000)  # the app got the pick
    assert 412 not in answers, answers  # no update of the user's was refused
