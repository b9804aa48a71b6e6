"""The Training page in headless Chromium with many runs: the run list pages them, and 20 ticked runs are
drawn on one chart of the Compare runs tab, one line and one legend entry each."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engines.training import RunRegistry, build_config
from engines.training.metrics_store import MetricsWriter
from engines.training.runs import write_json_atomic
from tests.browser.conftest import served_app

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("NEURODECK_SCREENSHOTS", "")) if os.environ.get("NEURODECK_SCREENSHOTS") else None
"""Where the test leaves its screenshot for a person to look at (unset: the test's own folder)."""


def _runs(workspace: Path, count: int) -> None:
    registry = RunRegistry(workspace)
    for i in range(count):
        lr = (1, 2, 3, 5, 8)[i % 5]
        config = build_config(
            [{"kind": "synthetic"}],
            model_size="tiny",
            steps=400,
            name=f"lr {lr}e-4 seed {i}",
            optim={"lr": lr * 1e-4},
        )
        folder = registry.new_run(config.name)
        write_json_atomic(folder.config_path, config.to_dict())
        best = 0.3 + 0.02 * i
        write_json_atomic(
            folder.status_path,
            {
                "state": "completed",
                "step": 400,
                "total_steps": 400,
                "started": 1.7e9 + i,
                "final": {"best_val_loss": best},
            },
        )
        writer = MetricsWriter(folder.metrics_path)
        writer.write_many(
            [
                {"step": s, "split": "val", "loss": best + 2.0 * 0.99 ** (s / (1 + i % 5))}
                for s in range(10, 401, 10)
            ]
        )
        writer.close()


def _chart_counts(page: Page) -> list[dict[str, int]]:
    """For each Bokeh plot titled "... of the ticked runs": its line renderers and legend entries."""
    return page.evaluate(
        """() => Bokeh.documents.flatMap((doc) => [...doc._all_models.values()])
            .filter((m) => ["Plot", "Figure"].includes(m.type) && m.title && /ticked runs/.test(m.title.text))
            .map((plot) => ({
                lines: plot.renderers.filter((r) => r.glyph && r.glyph.type === "Line").length,
                legend: plot.right.filter((m) => m.type === "Legend").reduce((n, l) => n + l.items.length, 0),
            }))"""
    )


def test_twenty_ticked_runs_share_one_chart_with_a_legend_beside_it(page: Page, tmp_path):
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    _runs(workspace, 45)
    with served_app(workspace) as (url, _port):
        page.set_viewport_size({"width": 1500, "height": 1300})
        page.goto(url + "?page=training")
        expect(page.get_by_text("45 of 45 runs")).to_be_visible(timeout=60_000)
        boxes = page.locator(".nd-training-runs .tabulator-row input[type=checkbox]")
        expect(boxes).to_have_count(20)  # one page of the list reaches the browser
        for k in range(20):  # as a person ticks: each tick counted by the server before the next
            boxes.nth(k).check()
            expect(page.get_by_text(f"45 of 45 runs · {k + 1} ticked to compare")).to_be_visible()
        assert boxes.evaluate_all("(els) => els.filter((e) => e.checked).length") == 20  # none dropped
        page.get_by_text("Compare runs", exact=True).first.click()
        page.wait_for_function(
            """() => Bokeh.documents.some((doc) => [...doc._all_models.values()].some((m) =>
                ["Plot", "Figure"].includes(m.type) && m.title && /ticked runs/.test(m.title.text) &&
                m.renderers.filter((r) => r.glyph && r.glyph.type === "Line").length === 20))""",
            timeout=60_000,
        )
        page.wait_for_timeout(1500)  # let the canvas paint before the screenshot
        shot = (SHOTS or tmp_path) / "training-compare-20-runs.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        charts = [c for c in _chart_counts(page) if c["lines"] == 20]
        assert charts and charts[0]["legend"] == 20  # one entry a run, beside the plot
