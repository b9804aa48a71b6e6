"""The Training page in headless Chromium: start a run from the form, watch its curve grow, pause, resume,
stop,
and reopen it from its address after a reload."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

STATUS = re.compile(r"^Step (\d+) of (\d+) · ([a-z_]+) · (\d+) points")


@dataclass(frozen=True)
class Shown:
    step: int
    total: int
    state: str
    points: int


def _shown(page: Page) -> Shown | None:
    line = page.get_by_text(STATUS).first
    if line.count() == 0:
        return None
    found = STATUS.match(line.inner_text())
    return (
        Shown(int(found.group(1)), int(found.group(2)), found.group(3), int(found.group(4)))
        if found
        else None
    )


def _wait_for(page: Page, condition: Callable[[Shown], bool], what: str, timeout_s: float = 60) -> Shown:
    deadline, last = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        last = _shown(page)
        if last is not None and condition(last):
            return last
        page.wait_for_timeout(250)
    raise AssertionError(f"timed out waiting for {what}; the page shows {last}")


def _fill(page: Page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True).first
    box.fill(value)
    box.press("Enter")


def test_start_watch_pause_resume_stop_and_reopen_from_the_link(page: Page, app_url: str):
    page.goto(app_url + "?page=training")
    expect(page.get_by_role("combobox", name="Data", exact=True)).to_have_value(
        "Synthetic demo (bundled, known latents)"
    )
    _fill(page, "Steps", "20000")  # long enough to steer; the run is stopped below
    _fill(page, "Run name", "browser steering")
    page.get_by_role("button", name="Start run").click()
    expect(page).to_have_url(re.compile(r"page=training&run=[\w.-]*browser-steering[\w.-]*"), timeout=60_000)
    run_id = re.search(r"run=([\w.-]+)", page.url).group(1)
    expect(page.locator("code").filter(has_text=run_id).first).to_be_visible()  # the header names the run

    first = _wait_for(page, lambda s: s.state == "running" and s.points >= 2, "the first logged points", 120)
    assert first.total == 20000
    grown = _wait_for(page, lambda s: s.points > first.points and s.step > first.step, "the curve to grow")
    assert grown.state == "running"

    page.get_by_role("button", name="Pause").click()
    paused = _wait_for(page, lambda s: s.state == "paused", "the run to pause")
    page.wait_for_timeout(2500)
    still = _shown(page)
    assert (still.state, still.step, still.points) == ("paused", paused.step, paused.points)  # nothing trains

    page.get_by_role("button", name="Resume").click()
    resumed = _wait_for(page, lambda s: s.state == "running" and s.step > paused.step, "training to go on")
    assert resumed.points >= paused.points

    page.get_by_role("button", name="Stop").click()
    _wait_for(page, lambda s: s.state == "stopped", "the run to stop")
    page.wait_for_timeout(1500)  # one more read: rows logged just before the stop
    stopped = _shown(page)
    expect(page.get_by_text(re.compile(rf"stopped at step {stopped.step}")).first).to_be_visible()
    page.get_by_text("Checkpoints", exact=True).first.click()
    table = page.locator(".nd-training-checkpoints").first
    expect(table.get_by_text("pause", exact=True).first).to_be_visible()  # pausing wrote a checkpoint
    expect(table.get_by_text(f"step_{stopped.step:08d}.pt").first).to_be_visible()  # so did stopping

    page.reload()  # a new session from the same address reopens the run, rebuilt from its folder
    expect(page).to_have_url(re.compile(rf"run={re.escape(run_id)}"))
    reopened = _wait_for(page, lambda s: s.state == "stopped", "the reopened run")
    assert (reopened.step, reopened.points) == (stopped.step, stopped.points)
    expect(page.locator(".nd-training-runs").first.get_by_text("browser steering").first).to_be_visible()


_POINTS_JS = """(prefix) => {
  const found = {};
  for (const doc of window.Bokeh.documents) {
    for (const model of doc.all_models) {
      const title = model.title && model.title.text;
      if (typeof title === "string" && title.startsWith(prefix) && Array.isArray(model.renderers)) {
        model.renderers.forEach((r, index) => {
          const data = r.data_source && r.data_source.data;
          if (data && data.step && r.glyph.type === "Scatter") {
            found[`${title}/${index}`] = Array.from(data.step);
          }
        });
      }
    }
  }
  return found;
}"""
"""Steps of the points of each curve (``<title>/<renderer>``) in the figures whose title starts with
``prefix``, as the browser holds them."""


def test_the_live_tab_plots_the_evaluation_against_step_while_a_run_trains(page: Page, app_url: str):
    page.goto(app_url + "?page=training")
    _fill(page, "Steps", "5000")  # runs while it is watched; stopped below
    _fill(page, "Run name", "browser scores")
    page.get_by_text("Optimiser and schedule", exact=True).click()
    _fill(page, "Log every (steps)", "5")
    _fill(page, "Validate every", "10")
    _fill(page, "Evaluate every (0: off)", "10")
    page.get_by_role("button", name="Start run").click()
    expect(page).to_have_url(re.compile(r"page=training&run=[\w.-]*browser-scores[\w.-]*"), timeout=60_000)

    r2 = page.locator(".nd-training-r2").first
    expect(r2).to_be_visible(timeout=120_000)  # drawn once the run has logged a score
    deadline, points = time.monotonic() + 90, {}
    while time.monotonic() < deadline:
        points = page.evaluate(_POINTS_JS, "Decoding R²")
        if len(points) >= 2 and min(len(steps) for steps in points.values()) >= 3:
            break
        page.wait_for_timeout(500)
    # "all" and each modality: a curve each, scored every 10 steps and growing while the run trains
    assert len(points) >= 2 and all(steps[:3] == [10, 20, 30] for steps in points.values()), points
    assert _shown(page).state == "running"
    co_bps = page.evaluate(_POINTS_JS, "co-bps")
    assert co_bps and all(steps[:2] == [10, 20] for steps in co_bps.values())
    for css in ("r2", "co-bps", "modality-loss"):
        box = page.locator(f".nd-training-{css}").first.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 200, (css, box)  # laid out, not squashed
    assert page.evaluate(_POINTS_JS, "Reconstruction loss per modality")  # validation points per modality
    page.get_by_role("button", name="Stop").click()
    _wait_for(page, lambda s: s.state == "stopped", "the run to stop")
