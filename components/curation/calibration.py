"""The reliability diagram: does "P(merge) 80%" come true 8 times in 10?

Bars are the fraction of groups in each predicted-probability bin that were true merges, drawn over
the diagonal a perfectly calibrated judge would follow; each bar is labelled with its group count (a
bar of two groups says little). The page hands it a ``ReliabilityReport`` (the demo's, where the
true merges are known, or the shipped map's fit data otherwise); titles are escaped on the way in.
"""

from __future__ import annotations

import panel as pn
from bokeh.models import ColumnDataSource, HoverTool, Range1d
from bokeh.plotting import figure

from components.safe_text import escape_text
from engines.curation.calibration import ReliabilityReport

__all__ = ["ReliabilityDiagram"]


def reliability_figure(report: ReliabilityReport) -> figure:
    """A Bokeh figure of ``report``: observed frequency per bin, the diagonal, counts over the bars."""
    filled = [b for b in report.bins if b.count]
    source = ColumnDataSource(
        {
            "center": [(b.low + b.high) / 2 for b in filled],
            "observed": [b.observed for b in filled],
            "predicted": [b.mean_predicted for b in filled],
            "count": [b.count for b in filled],
            "label": [f"n={b.count}" for b in filled],
            "label_y": [min(0.95, (b.observed or 0.0) + 0.03) for b in filled],
        }
    )
    plot = figure(
        width=460,
        height=400,
        x_range=Range1d(start=0, end=1),
        y_range=Range1d(start=0, end=1.02),
        x_axis_label="predicted P(merge)",
        y_axis_label="observed fraction of true merges",
        toolbar_location=None,
    )
    plot.line([0, 1], [0, 1], line_dash="dashed", color="gray", legend_label="perfect calibration")
    bars = plot.vbar(
        x="center", top="observed", width=0.09, source=source, alpha=0.6, legend_label="observed"
    )
    plot.scatter(x="predicted", y="observed", source=source, size=7, color="black", legend_label="bin mean")
    plot.text(x="center", y="label_y", text="label", source=source, text_align="center", text_font_size="9pt")
    plot.add_tools(
        HoverTool(
            renderers=[bars],
            tooltips=[
                ("groups", "@count"),
                ("mean predicted", "@predicted{0.00}"),
                ("observed", "@observed{0.00}"),
            ],
        )
    )
    plot.legend.location = "top_left"
    return plot


class ReliabilityDiagram(pn.viewable.Viewer):
    """The diagram with its title and note; ``update`` replaces what it shows (None: nothing to show yet).

    The plot is a new pane in a slot rather than one pane made visible: a Bokeh pane turned visible after
    the page was laid out stayed zero-sized in the browser. A report equal to the one shown (the page
    updates it every 2 s while a judge runs) leaves the plot alone."""

    def __init__(self) -> None:
        super().__init__()
        self._text = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._slot = pn.Column()
        self._shown: ReliabilityReport | None = None

    def update(self, report: ReliabilityReport | None) -> None:
        if report is None:
            self._text.object = (
                "*No metrics decision with a calibrated probability yet: judge the groups "
                "(Candidates & judge) to see the reliability diagram.*"
            )
            self._slot[:] = []
            self._shown = None
            return
        self._text.object = (
            f"### {escape_text(report.title)}\n\nExpected calibration error (10 bins): "
            f"**{report.ece:.3f}** over {report.n} groups. {escape_text(report.note)}"
        )
        if report != self._shown:
            self._slot[:] = [pn.pane.Bokeh(reliability_figure(report))]
            self._shown = report

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self._text, self._slot, sizing_mode="stretch_width")
