"""A viewer screenshot through the app's proxy: the request reaches the browser in the config stream, the
browser's answer (an action with the PNG) comes back through the proxy, and no browser means a clear error.

The test plays the browser's client with its own requests (the event stream, then ``action/``), as the
real client does; tests/browser has the same check with the real client drawing in Chromium.
"""

from __future__ import annotations

import base64
import io
import json
import threading

import numpy as np
import pytest
import requests
from PIL import Image

from components.neuroglancer.proxy import neuroglancer_routes
from components.neuroglancer.viewer import NeuroglancerViewer
from engines.ngstate.errors import NgStateError
from tests.support.tornado_app import serve_routes

QUICK_S = 5


def _png(width: int, height: int) -> bytes:
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, : width // 2] = 200
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _screenshot_request(stream: requests.Response) -> str:
    """Read the client's event stream until the config state asks for a screenshot; its id."""
    line = b""
    while True:
        byte = stream.raw.read(1)
        assert byte, "the event stream ended before a screenshot was asked for"
        line += byte
        if not line.endswith(b"\n"):
            continue
        text, line = line.decode().strip(), b""
        if text.startswith("data: "):
            event = json.loads(text[len("data: ") :])
            if event["k"] == "c" and event["s"].get("screenshot"):
                return event["s"]["screenshot"]


def test_the_browser_answer_comes_back_as_a_bounded_png(viewer):
    taken: list[bytes] = []
    with serve_routes(neuroglancer_routes()) as proxy:
        stream = requests.get(
            f"{proxy}/ngv/events/{viewer.token}",
            params={"c": "browser", "gc": "", "gs": ""},
            stream=True,
            timeout=QUICK_S,
        )
        try:
            asking = threading.Thread(target=lambda: taken.append(viewer.screenshot(timeout_s=QUICK_S)))
            asking.start()
            request_id = _screenshot_request(stream)
            reply = {
                "id": request_id,
                "image": base64.b64encode(_png(2048, 1000)).decode(),
                "width": 2048,
                "height": 1000,
                "imageType": "image/png",
            }
            answer = requests.post(
                f"{proxy}/ngv/action/{viewer.token}",
                data=json.dumps({"action": "screenshot", "state": {"screenshot": reply}}),
                timeout=QUICK_S,
            )
            assert answer.status_code == 200
            asking.join(QUICK_S)
        finally:
            stream.close()
    assert taken, "the screenshot did not return after the browser answered"
    with Image.open(io.BytesIO(taken[0])) as picture:
        assert picture.format == "PNG"
        assert picture.size == (1024, 500)  # the longer side cut to 1024 px, the aspect kept


def test_without_a_browser_the_screenshot_says_why_and_withdraws_its_request(viewer):
    with pytest.raises(NgStateError, match="open and visible in a browser tab"):
        viewer.screenshot(timeout_s=0.3)
    with serve_routes(neuroglancer_routes()) as proxy:  # a tab opened later is not asked for a picture
        stream = requests.get(
            f"{proxy}/ngv/events/{viewer.token}",
            params={"c": "later", "gc": "", "gs": ""},
            stream=True,
            timeout=QUICK_S,
        )
        try:
            first = b""
            while not first.endswith(b"\n\n"):
                first += stream.raw.read(1)
            config = json.loads(first.decode().strip()[len("data: ") :])
            assert config["k"] == "c" and not config["s"].get("screenshot")
        finally:
            stream.close()


def test_a_closed_viewer_says_so():
    viewer = NeuroglancerViewer({"position": [1, 2, 3]}, debounce_s=0.1)
    viewer.close()
    with pytest.raises(NgStateError, match="closed"):
        viewer.screenshot(timeout_s=0.3)
