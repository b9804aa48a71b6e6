"""Code every Neurodeck kernel runs at start, so Bokeh, HoloViews and hvPlot figures display as self-contained
outputs.

It runs in the kernel's process, where the user's figures are made, never in the server's: so it is kept as a
text resource, ``figure_display.ipy`` (the server's engines import no UI library), sent as the kernel's
start-up lines (local kernels) or as a silent first cell (remote kernels).

In a notebook these libraries display through JavaScript that the notebook page loads once
(comms, extension loaders); a chat or an exported notebook has none of that. Here a figure
displays as one mime bundle: ``application/vnd.bokeh.json_item+json`` (``bokeh.embed.json_item``,
to embed where BokehJS is loaded, as on a Panel page), ``text/html`` (a standalone page using
Bokeh's CDN scripts) and ``text/plain``. matplotlib needs nothing: IPython's inline backend
sends PNGs. The hooks are registered by class name, so nothing is imported until a figure shows.
"""

from __future__ import annotations

from importlib.resources import files

__all__ = ["SETUP_CODE"]

SETUP_CODE = files("engines.kernel").joinpath("figure_display.ipy").read_text(encoding="utf-8")
"""The start-up lines, as text."""
