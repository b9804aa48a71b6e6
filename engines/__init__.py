"""Headless engines behind the Neurodeck pages: no Panel, Bokeh or HoloViews imports here."""
