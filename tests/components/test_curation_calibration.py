"""The reliability diagram: a bar per filled bin at its observed rate, the diagonal, counts, escaped text."""

from __future__ import annotations

import panel as pn
from bokeh.models import GlyphRenderer

from components.curation.calibration import ReliabilityDiagram
from engines.curation.calibration import (
    ReliabilityReport,
    expected_calibration_error,
    reliability_bins,
)


def _report(title: str = "Calibration on this demo") -> ReliabilityReport:
    probabilities, outcomes = [0.05, 0.15, 0.18, 0.95, 1.0], [0, 1, 0, 1, 1]
    return ReliabilityReport(
        title=title,
        note="5 groups.",
        bins=reliability_bins(probabilities, outcomes),
        ece=expected_calibration_error(probabilities, outcomes),
        n=5,
    )


def test_the_diagram_draws_each_filled_bin_with_its_count_over_the_diagonal():
    diagram = ReliabilityDiagram()
    diagram.update(_report())
    view = pn.panel(diagram)
    plot = next(p for p in view.select(pn.pane.Bokeh)).object
    sources = {
        type(r.glyph).__name__: r.data_source.data for r in plot.renderers if isinstance(r, GlyphRenderer)
    }
    assert list(sources["VBar"]["observed"]) == [0.0, 0.5, 1.0]
    assert list(sources["Text"]["label"]) == ["n=1", "n=2", "n=2"]
    assert list(sources["Line"]["x"]) == [0, 1] and list(sources["Line"]["y"]) == [0, 1]
    text = next(m for m in view.select(pn.pane.Markdown)).object
    assert "**0.154**" in text and "over 5 groups" in text


def test_a_title_from_elsewhere_is_escaped_and_no_report_hides_the_plot():
    diagram = ReliabilityDiagram()
    diagram.update(_report(title="<img src=x onerror=alert(1)>"))
    view = pn.panel(diagram)
    text = next(m for m in view.select(pn.pane.Markdown)).object
    assert "<img" not in text
    assert len(view.select(pn.pane.Bokeh)) == 1
    diagram.update(None)
    assert not view.select(pn.pane.Bokeh)
    assert "judge the groups" in next(m for m in view.select(pn.pane.Markdown)).object
