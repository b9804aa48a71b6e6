"""Two people signed in to one server, in real Chromium: neither opens the other's chat, and jobs show whose
they are.

The engine tests (test_owners.py) cover every owned thing; this one checks that the pages pass the signed-in
person down: before, a chat id in a link opened that chat for anyone.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from app.auth import add_password
from tests.browser.conftest import served_app, signed_in_with_password

pytestmark = pytest.mark.browser

CHAT_BOX = re.compile(r"^e\.g\. go to")


def test_two_people_see_only_their_own_chats_and_whose_jobs_are_whose(tmp_path, nwb_data_dir, browser):
    workspace = tmp_path / "ws"
    for user in ("alice", "bob"):
        add_password(workspace / "auth" / "passwords", user, f"{user}-password")
    with served_app(workspace, "--auth", "password", root=nwb_data_dir) as (url, _port):
        alice = signed_in_with_password(browser, url, "alice", "alice-password")
        bob = signed_in_with_password(browser, url, "bob", "bob-password")
        try:
            mine = alice.new_page()
            mine.goto(url + "?page=neuroglancer")
            box = mine.get_by_placeholder(CHAT_BOX)
            box.fill("go to 1 2 3")
            box.press("Enter")
            expect(mine).to_have_url(re.compile(r"chat=[0-9a-f]+"))
            chat_id = re.search(r"chat=([0-9a-f]+)", mine.url).group(1)

            theirs = bob.new_page()
            theirs.goto(url + f"?page=neuroglancer&chat={chat_id}")
            expect(theirs.get_by_text(re.compile("no such chat")).first).to_be_visible(timeout=60_000)
            expect(theirs.get_by_text("go to 1 2 3")).to_have_count(0)

            mine.goto(url + f"?page=neuroglancer&chat={chat_id}")  # the owner reopens it
            expect(mine.get_by_text("go to 1 2 3", exact=True).first).to_be_visible(timeout=60_000)

            mine.goto(url + "?page=nwb&path=/units")  # the raster asks for the spike-density job: alice's
            expect(mine.get_by_text(re.compile(r"spikes · ")).first).to_be_visible(timeout=60_000)
            theirs.goto(url + "?page=compute")
            expect(theirs.get_by_text("alice", exact=True).first).to_be_visible(timeout=60_000)
        finally:
            alice.close()
            bob.close()
