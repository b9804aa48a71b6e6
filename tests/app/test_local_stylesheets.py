"""Stylesheets stay on the app's own ``static/``, also for a pane added and changed in one held batch.

A pane's model made while the document's models are frozen has no document yet; Panel re-rendered it
against no document and pointed the session's shared stylesheets (loading, markdown, theme) at its CDN.
The chat's streamed reply does exactly this (the reply appended, then its text changed, in one batch);
CI saw the NWB page ask ``cdn.holoviz.org`` for those four stylesheets.
"""

from __future__ import annotations

import panel as pn
import pytest
from bokeh.document import Document
from bokeh.models import ImportedStyleSheet
from panel.io.state import set_curdoc

from app.local_stylesheets import stylesheets_from_this_server


def _urls_after_a_pane_is_added_and_changed_while_frozen(doc: Document) -> set[str]:
    """``doc``'s stylesheet addresses once a Markdown pane was added and changed in one held batch (as
    ``run_on_session_thread`` runs a batch), after each session's start-up call."""
    stylesheets_from_this_server(doc)
    with set_curdoc(doc):
        column = pn.Column(pn.pane.Markdown("first"))
        doc.add_root(column.get_root(doc))
        with doc.models.freeze():
            reply = pn.pane.Markdown("The")
            column.append(reply)
            reply.object = "The answer"
    return {model.url for model in doc.models if isinstance(model, ImportedStyleSheet)}


@pytest.mark.parametrize("dist_url", ["static/extensions/panel/", "/lab/static/extensions/panel/"])
def test_a_pane_added_and_changed_while_frozen_keeps_the_documents_stylesheets(dist_url):
    doc = Document()
    doc._template_variables["dist_url"] = dist_url  # what Panel sets when it renders the session's page
    urls = _urls_after_a_pane_is_added_and_changed_while_frozen(doc)
    assert urls, "no stylesheet at all"
    assert not [url for url in urls if url.startswith("http")]
    assert {url for url in urls if "markdown.css" in url or "loading.css" in url}
    assert all(url.startswith(dist_url) for url in urls if "extensions/panel" in url), urls


def test_a_page_that_asks_for_the_cdn_still_gets_it(monkeypatch):
    """Only a patch that lost its document is redirected: a server told to use the CDN keeps it."""
    monkeypatch.setenv("BOKEH_RESOURCES", "cdn")
    urls = _urls_after_a_pane_is_added_and_changed_while_frozen(Document())
    assert any(url.startswith("https://cdn.holoviz.org/") for url in urls)
