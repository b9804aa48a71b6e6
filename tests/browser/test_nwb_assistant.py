"""The NWB page's assistant in headless Chromium: offline answers, views opened and embedded, approved code
runs."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import served_app
from tests.support.openai_server import ScriptedOpenAIServer, ScriptedReply, ToolCall

pytestmark = pytest.mark.browser

ASK = re.compile(r"^Ask about this file")

PLOT_CODE = """import h5py, numpy as np
import matplotlib.pyplot as plt
with h5py.File(NWB_SOURCE, "r") as f:
    counts = np.diff(np.concatenate([[0], f["units/spike_times_index"][:]]))
print("units:", len(counts), "spikes:", int(counts.sum()))
plt.bar(np.arange(len(counts)), counts)
plt.show()
"""
SLOW_CODE = "import time\nfor i in range(600):\n    time.sleep(0.1)\nprint('never')"


def _open(page: Page, url: str) -> None:
    page.goto(url + "?assistant=1")
    expect(page.get_by_placeholder(ASK)).to_be_visible(timeout=60_000)
    # the file is open: its title line (the name alone is also in the "Opening …" notice)
    expect(page.get_by_text(re.compile(r"· NWB [\d.]+ · [\d,]+ objects")).first).to_be_visible(timeout=60_000)


def _ask(page: Page, text: str) -> None:
    box = page.get_by_placeholder(ASK)
    box.fill(text)
    box.press("Enter")
    expect(page.get_by_text(text, exact=True).first).to_be_visible()
    expect(page.get_by_role("button", name="Stop", exact=True).first).to_be_disabled(
        timeout=60_000
    )  # turn done


def test_offline_answers_open_and_embed_views(page: Page, app_url: str):
    _open(page, app_url)
    _ask(page, "how many trials")
    expect(page.get_by_text(re.compile(r"90 intervals from")).first).to_be_visible()
    _ask(page, "show the raster of units 1-20")
    expect(
        page.get_by_text(re.compile(r"20 picked unit\(s\)")).first
    ).to_be_visible()  # a live raster in the chat
    _ask(page, "open units from 100-200")
    expect(page).to_have_url(re.compile(r"path=/units.*t0=100&t1=200"))
    expect(page.get_by_text(re.compile(r"^100\.00 – 200\.00 s · [\d,]+ spikes")).first).to_be_visible()
    _ask(page, "make me a coffee")
    expect(page.get_by_text(re.compile(r"I can't do that offline")).first).to_be_visible()


def test_the_page_opens_without_the_assistant_and_a_chat_link_reopens_it(page: Page, app_url: str):
    """The assistant is built when first shown; a link naming its chat brings that chat back."""
    page.goto(app_url)
    expect(page.get_by_text("sub-4_ses-4_ecephys+image.nwb").first).to_be_visible(timeout=60_000)
    expect(page.get_by_placeholder(ASK)).to_have_count(0)  # not on the page until asked for
    page.get_by_role("button", name="Assistant", exact=True).click()
    expect(page.get_by_placeholder(ASK)).to_be_visible(timeout=60_000)
    _ask(page, "how many trials")
    expect(page).to_have_url(re.compile(r"chat=[0-9a-f]+"))
    chat = re.search(r"chat=([0-9a-f]+)", page.url).group(1)
    page.goto(app_url + f"?chat={chat}&assistant=1")
    expect(page.get_by_text("how many trials", exact=True).first).to_be_visible(timeout=60_000)
    expect(page.get_by_text(re.compile(r"90 intervals from")).first).to_be_visible()


@pytest.fixture(scope="module")
def model_app(tmp_path_factory, nwb_data_dir):
    """The app with a scripted model that proposes code: a plot, or a loop that never ends on its own."""

    def respond(request: dict) -> ScriptedReply:
        last = request["messages"][-1]
        if last["role"] == "tool":
            return ScriptedReply("The code is below; press Run to run it.")
        slow = "slow" in str(last.get("content"))
        return ScriptedReply(
            tool_calls=[
                ToolCall(
                    "propose_code",
                    {
                        "code": SLOW_CODE if slow else PLOT_CODE,
                        "explanation": "Counts each unit's spikes and plots them."
                        if not slow
                        else "A long loop.",
                    },
                )
            ]
        )

    with ScriptedOpenAIServer(responder=respond) as server:
        model = {
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "test-key",
            "NEURODECK_CODE_TIME_S": "8",
        }
        with served_app(tmp_path_factory.mktemp("assistant-app"), root=nwb_data_dir, env=model) as (
            url,
            _port,
        ):
            yield url


def test_proposed_code_runs_only_when_run_is_pressed_and_shows_its_outputs(page: Page, model_app: str):
    _open(page, model_app)
    _ask(page, "plot the spike counts of every unit")
    expect(page.get_by_text("Not run yet: read it, then press Run code.").first).to_be_visible()
    expect(page.get_by_text(re.compile(r"^units: 35 spikes:"))).to_have_count(0)  # nothing ran by itself
    page.get_by_role("button", name="Run code").first.click()
    expect(page.get_by_text(re.compile(r"units: 35 spikes: 214278")).first).to_be_visible(timeout=60_000)
    expect(page.locator(".nd-code-outputs img").first).to_be_visible()  # the matplotlib figure
    expect(page.get_by_text(re.compile(r"^Finished in")).first).to_be_visible()


def test_a_run_past_its_time_limit_is_stopped_and_stop_interrupts(page: Page, model_app: str):
    _open(page, model_app)
    _ask(page, "run something slow")
    page.get_by_role("button", name="Run code").first.click()
    expect(page.get_by_text(re.compile(r"^timeout:")).first).to_be_visible(timeout=60_000)  # the 8 s limit
    page.get_by_role("button", name="Run code").first.click()
    expect(page.get_by_text("Running…").first).to_be_visible()
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="Stop code").first.click()
    expect(page.get_by_text(re.compile(r"^stopped:")).first).to_be_visible(timeout=20_000)
