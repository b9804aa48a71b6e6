"""Text is text: payloads in every link argument, file, table and model reply show as text and never run.

Real Chromium against the served app. Every payload pushes its number onto ``window.__xss`` if the
page runs it (see tests/support/xss.py); each test asserts none ran and that the payload reads on
the page as written.
"""

from __future__ import annotations

import re
from datetime import UTC
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import served_app
from tests.support.openai_server import ScriptedOpenAIServer, ScriptedReply
from tests.support.range_server import RangeServer
from tests.support.xss import XssSweep, link_sweep

pytestmark = pytest.mark.browser

NG_CHAT = re.compile(r"^e\.g\. go to")
ASK = re.compile(r"^Ask about this file")


def _say(page: Page, placeholder: re.Pattern, text: str) -> None:
    box = page.get_by_placeholder(placeholder)
    box.fill(text)
    box.press("Enter")


def _assert_safe(sweep: XssSweep, page: Page, labels: list[str]) -> None:
    missing = [label for label in labels if not sweep.shown(page, label)]
    ran = sweep.collect(page)
    assert not ran, f"payloads ran as script: {ran}"
    assert not missing, f"payloads not shown as text: {missing}"


def test_no_link_argument_of_any_page_runs_as_script(page: Page, app_url: str):
    sweep, missing = link_sweep(page, app_url)
    assert not sweep.executed, f"payloads in links ran as script: {sweep.executed}"
    assert not missing, f"payloads in links not shown as text: {missing}"


@pytest.fixture(scope="module")
def crafted_files(tmp_path_factory) -> tuple[Path, XssSweep]:
    """An NWB file whose description, object names, attributes and version hold payloads."""
    from datetime import datetime

    import h5py
    import numpy as np
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries

    sweep = XssSweep()
    folder = tmp_path_factory.mktemp("crafted")
    nwb = NWBFile(
        session_description=sweep.payload("session_description", "script"),
        identifier="xss",
        session_start_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    nwb.add_acquisition(
        TimeSeries(
            name=sweep.payload("object name"),
            data=np.arange(20.0),
            rate=10.0,
            unit="V",
            description=sweep.payload("object description", "script"),
        )
    )
    with NWBHDF5IO(folder / "crafted.nwb", "w") as io:
        io.write(nwb)
    with h5py.File(folder / "crafted.nwb", "a") as f:
        f.attrs["nwb_version"] = "2.7.0" + sweep.payload("nwb_version")  # still a version 2 file
    return folder, sweep


def test_an_nwb_files_text_shows_as_text(page: Page, app_url: str, crafted_files):
    folder, sweep = crafted_files
    sweep.arm(page)
    with RangeServer(folder) as server:
        url = server.url_for("crafted.nwb")
        name = sweep.texts["object name"]
        page.goto(
            app_url
            + "?"
            + urlencode(
                {"page": "nwb", "url": url, "path": f"/acquisition/{name}", "view": "hdf5", "assistant": "1"}
            )
        )
        _assert_safe(
            sweep, page, ["nwb_version", "object name", "object description"]
        )  # title, tree, raw view
        _say(page, ASK, "what is in this file")
        _assert_safe(sweep, page, ["session_description"])  # the assistant's answer
        page.goto(app_url + "?" + urlencode({"page": "nwb", "url": url}))
        _assert_safe(sweep, page, ["session_description"])  # the file overview


def test_table_column_names_and_file_names_show_as_text(page: Page, app_url: str, tmp_path: Path):
    sweep = XssSweep()
    sweep.arm(page)
    column = sweep.payload("column name")
    upload = tmp_path / f"{sweep.payload('file name')}.csv"
    upload.write_text(f'id,"{column}",x\n1,2,3\n2,5,6\n')
    page.goto(app_url + "?page=neuroglancer")
    expect(page.get_by_placeholder(NG_CHAT)).to_be_visible(timeout=60_000)
    page.locator("input[type=file]").first.set_input_files(str(upload))
    _assert_safe(sweep, page, ["file name"])
    _say(page, NG_CHAT, "describe the table")
    _assert_safe(sweep, page, ["column name"])


@pytest.fixture(scope="module")
def model_app(tmp_path_factory, nwb_data_dir):
    """The app with a scripted model whose replies carry payloads in Markdown."""
    sweep = XssSweep()
    reply = (
        f"Here is **what I found**:\n\n- {sweep.payload('reply html')}\n"
        f"- {sweep.payload('reply script', 'script')}\n\n[a link](javascript:__xss.push(999)) and done."
    )

    with ScriptedOpenAIServer(responder=lambda _request: ScriptedReply(reply)) as server:
        model = {
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "test-key",
            "NEURODECK_LLM_MODEL": "scripted",
        }
        with served_app(tmp_path_factory.mktemp("xss-model-app"), root=nwb_data_dir, env=model) as (
            url,
            _port,
        ):
            yield url, sweep


def test_model_replies_and_replayed_chats_keep_formatting_but_run_nothing(page: Page, model_app):
    url, sweep = model_app
    sweep.arm(page)
    page.goto(url + "?page=neuroglancer")
    expect(page.get_by_placeholder(NG_CHAT)).to_be_visible(timeout=60_000)
    question = sweep.payload("user message")
    _say(page, NG_CHAT, question)
    _assert_safe(sweep, page, ["reply html", "reply script", "user message"])
    expect(page.get_by_text("what I found").first).to_be_visible()  # Markdown still formats: bold
    assert page.get_by_text("what I found").first.evaluate("e => e.tagName") == "STRONG"
    expect(page).to_have_url(re.compile(r"chat=[0-9a-f]+"))
    page.get_by_text("a link").first.click()
    assert 999 not in page.evaluate("() => window.__xss"), "a javascript: link in a reply ran"
    page.reload()  # the stored conversation is replayed from the link
    expect(page.get_by_placeholder(NG_CHAT)).to_be_visible(timeout=60_000)
    _assert_safe(sweep, page, ["reply html", "reply script", "user message"])
