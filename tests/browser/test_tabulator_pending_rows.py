"""Rows sent while a table is being built are shown once it is built (Panel's Tabulator dropped them).

A table drawn or redrawn (a card opening, a tab shown) just as the server sends its rows used to keep
showing none under the right count ("1 dandisets found" above an empty table). The app's
``assets/web/tabulator-pending-data.js`` applies such rows after the build.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

REDRAW_THEN_NEW_ROWS = """async () => {
  const model = [...Bokeh.documents[0]._all_models.values()].find(
    (m) => m.constructor.__qualified__ === "panel.models.tabulator.DataTabulator");
  const view = Bokeh.index.get_one(model);
  view.render();  // the table is being built again, as when its card opens
  const data = {};
  for (const column of Object.keys(model.source.data)) {
    data[column] = Array.from({length: 7}, (_, i) => (column === "index" ? i : "row " + i));
  }
  model.source.data = data;  // the server's new rows arrive meanwhile
  await new Promise((done) => setTimeout(done, 3000));
  return view.tabulator.getDataCount();
}"""


def test_rows_that_arrive_while_a_table_is_built_are_shown(page: Page, app_url: str):
    page.goto(app_url + "?page=training")
    expect(page.get_by_text("Runs", exact=True).first).to_be_visible(timeout=60_000)
    page.wait_for_function(
        """() => Bokeh.documents.length > 0 && [...Bokeh.documents[0]._all_models.values()].some(
            (m) => m.constructor.__qualified__ === "panel.models.tabulator.DataTabulator")""",
        timeout=60_000,
    )
    assert page.evaluate(REDRAW_THEN_NEW_ROWS) == 7
