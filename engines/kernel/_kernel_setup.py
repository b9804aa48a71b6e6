"""Code every Neurodeck kernel runs at start, so Bokeh, HoloViews and hvPlot figures display as self-contained outputs.

It runs in the kernel's process, where the user's figures are made, never in the server's:
so it is kept as source text (the server's engines import no UI library), sent as the
kernel's start-up lines (local kernels) or as a silent first cell (remote kernels).

In a notebook these libraries display through JavaScript that the notebook page loads once
(comms, extension loaders); a chat or an exported notebook has none of that. Here a figure
displays as one mime bundle: ``application/vnd.bokeh.json_item+json`` (``bokeh.embed.json_item``,
to embed where BokehJS is loaded, as on a Panel page), ``text/html`` (a standalone page using
Bokeh's CDN scripts) and ``text/plain``. matplotlib needs nothing: IPython's inline backend
sends PNGs. The hooks are registered by class name, so nothing is imported until a figure shows.
"""

from __future__ import annotations

__all__ = ["SETUP_CODE"]

SETUP_CODE = '''
def _neurodeck_install_figure_display():
    from IPython import get_ipython

    def bundle(obj):
        from bokeh.embed import file_html, json_item
        from bokeh.model import Model
        from bokeh.resources import CDN
        model = obj
        if not isinstance(obj, Model):
            import holoviews
            model = holoviews.render(obj, backend="bokeh")
        return {"application/vnd.bokeh.json_item+json": json_item(model),
                "text/html": file_html(model, CDN, title="Figure"),
                "text/plain": "<%s figure>" % type(obj).__name__}

    def show(obj):
        from IPython.display import publish_display_data
        publish_display_data(bundle(obj))
        return True

    shell = get_ipython()
    if shell is not None:
        formatter = shell.display_formatter.ipython_display_formatter
        formatter.for_type_by_name("bokeh.model.model", "Model", show)
        formatter.for_type_by_name("holoviews.core.dimension", "Dimensioned", show)

_neurodeck_install_figure_display()
del _neurodeck_install_figure_display
'''
