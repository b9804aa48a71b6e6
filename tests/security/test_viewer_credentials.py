"""The Neuroglancer viewer never hands the server's data-source credentials to a browser, unless the operator
opts in.

``neuroglancer`` answers ``POST /credentials/<viewer token>`` with the server's own tokens (the
DVID bearer token from ``DVID_CREDENTIALS``, Google's application-default access token, ...) for
any viewer created with ``allow_credentials``, which ``neuroglancer.Viewer()`` turns on by default;
the app's proxy forwarded ``credentials/``. Here the real neuroglancer server holds a DVID token
(read from the environment, as its credentials provider does), and the credentials route is asked
through the app's proxy and on the neuroglancer server directly: refused, and the token appears in
no answer. With ``--viewer-credentials`` the same request gets it (the check can see a leak).
"""

from __future__ import annotations

import json
import re
import secrets
from contextlib import AbstractContextManager

import pytest
import requests
from playwright.sync_api import Page, expect

from components.neuroglancer.proxy import neuroglancer_routes, neuroglancer_server_url
from components.neuroglancer.viewer import NeuroglancerViewer
from tests.browser.conftest import SIGNED_IN, served_app
from tests.support.tornado_app import serve_routes

DVID_SERVER = "https://dvid.example.org"
SECRET = f"dvid-{secrets.token_hex(12)}"
ASK = json.dumps({"key": "DVID", "parameters": {"dvidServer": DVID_SERVER}})


@pytest.fixture
def dvid_token(monkeypatch) -> str:
    """The server's DVID token, where neuroglancer's DVID credentials provider reads it."""
    monkeypatch.setenv("DVID_CREDENTIALS", f"{DVID_SERVER}={SECRET}")
    return SECRET


def app_proxy(allow_credentials: bool) -> AbstractContextManager[str]:
    """The app's viewer routes on a real Tornado server on 127.0.0.1, in a thread; yields its base URL."""
    return serve_routes(neuroglancer_routes(allow_credentials=allow_credentials))


def _ask(url: str, **headers: str) -> list[requests.Response]:
    """The credentials route asked both ways a client could: neuroglancer's POST, and a plain GET."""
    return [
        requests.post(url, data=ASK, headers=headers, timeout=30),
        requests.get(url, headers=headers, timeout=30),
    ]


def test_the_viewer_refuses_credentials_through_the_proxy_and_directly(dvid_token: str):
    viewer = NeuroglancerViewer({}, debounce_s=0.1)
    with app_proxy(allow_credentials=False) as proxy:
        answers = _ask(f"{proxy}/ngv/credentials/{viewer.token}") + _ask(
            f"{neuroglancer_server_url()}/credentials/{viewer.token}"
        )
    assert [answer.status_code for answer in answers[::2]] == [403, 403], [a.text[:200] for a in answers]
    assert all(answer.status_code >= 400 for answer in answers)
    assert not [answer for answer in answers if dvid_token in answer.text]
    viewer.close()


def test_an_operator_who_opts_in_gets_the_credentials_through_the_proxy(dvid_token: str):
    viewer = NeuroglancerViewer({}, debounce_s=0.1, allow_credentials=True)
    with app_proxy(allow_credentials=True) as proxy:
        answer = requests.post(f"{proxy}/ngv/credentials/{viewer.token}", data=ASK, timeout=30)
    assert answer.status_code == 200 and answer.json()["credentials"]["accessToken"] == dvid_token
    viewer.close()


@pytest.mark.browser
def test_the_served_page_s_viewer_gives_no_credentials(dvid_token: str, page: Page, tmp_path):
    """The app as served (``run.py``, the token in its environment): the page's own viewer token is
    refused."""
    with served_app(tmp_path) as (app_url, _port):
        page.goto(f"{app_url}?page=neuroglancer")
        frame = page.locator("iframe[title='Neuroglancer viewer']").first
        expect(frame).to_be_attached(timeout=60_000)
        token = re.search(r"ngv/v/([A-Za-z0-9]+)/", frame.get_attribute("src")).group(1)
        answers = _ask(f"{app_url}ngv/credentials/{token}", **SIGNED_IN)
    assert [answer.status_code for answer in answers] == [403, 403], [a.text[:200] for a in answers]
    assert not [answer for answer in answers if dvid_token in answer.text]
