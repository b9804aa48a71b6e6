"""Adding a page takes one folder under ``components/`` and one module in ``app/pages/``, nothing else.

The test writes a "Notes" page that exists only here (its module and its component folder in a
temporary directory, added to the two packages' search paths), imports the pages package as the
app does, and serves the whole app in a fresh process: the new tab is there, a link
``?page=notes&topic=...`` opens it with that state, and a change of its state writes the address.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PAGE_MODULE = """
import param
from app.registry import register_page
from app.routing import PageLink
from components.notes.card import NoteCard


class NotesLink(PageLink):
    topic = param.String(default="", doc="The topic the notes are about.")


@register_page("notes", "Notes", icon="✎", order=95, link=NotesLink)
def build_notes_page(ctx, link):
    return NoteCard(link)
"""

COMPONENT = """
import panel as pn


class NoteCard(pn.viewable.Viewer):
    def __init__(self, link):
        super().__init__()
        self._text = pn.pane.Markdown(f"Notes about {link.topic}")
        link.param.watch(lambda e: setattr(self._text, "object", f"Notes about {e.new}"), "topic")

    def __panel__(self):
        return self._text
"""

SCRIPT = """
import json, sys
from pathlib import Path
import requests
from bokeh.client import pull_session
import app.pages, components
extra = Path(sys.argv[1])
components.__path__.append(str(extra / "components"))
app.pages.__path__.append(str(extra / "pages"))
from app.registry import PAGES, import_pages
import_pages("app.pages", app.pages.__path__)  # what importing app.pages does, now with the extra folder
from app.context import AppContext
from app.main import create_app
from app.routing import parse_address
from app.session import SessionState
from app.settings import Settings
from tests.support.panel_page import serve_page

ctx = AppContext.create(Settings(workspace=extra / "workspace", show=False, workers=1))
with serve_page(lambda: create_app(ctx)) as url:
    requests.get(url, timeout=120)  # a first visit pays the imports
    with pull_session(url=url, arguments={"page": "notes", "topic": "spikes"}) as session:
        shown = json.dumps(session.document.to_json(), default=str)  # the document its browser gets
state = SessionState(PAGES)
state.apply_address(parse_address("?page=notes&topic=spikes"))
link = state.links["notes"]
link.topic = "lfp"
print(json.dumps({"names": PAGES.names(), "tab": "Notes" in shown, "shown": "Notes about spikes" in shown,
                  "page": state.page, "query": state.query()}))
ctx.close()
"""


def test_a_page_defined_only_in_the_test_gets_a_tab_and_its_own_link_state(tmp_path: Path):
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "notes.py").write_text(PAGE_MODULE)
    (tmp_path / "components" / "notes").mkdir(parents=True)
    (tmp_path / "components" / "notes" / "__init__.py").write_text("")
    (tmp_path / "components" / "notes" / "card.py").write_text(COMPONENT)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["names"][-2:] == ["compute", "notes"]  # ordered among the app's own pages (order 95)
    assert seen["tab"] and seen["shown"]  # the served app shows the tab, opened on the linked topic
    assert seen["page"] == "notes" and seen["query"] == "?page=notes&topic=lfp"
