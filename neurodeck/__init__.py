"""Neurodeck's views in Jupyter notebooks: ``from neurodeck import nwb_figure``."""

from neurodeck.figures import nwb_figure

__all__ = ["nwb_figure"]
