"""Mends a race in Panel 1.9's queue of changes for the browser: a queued change could wait for good.

While a session's earlier write to the browser is still under way, Panel queues new changes as PATCH-DOC
messages (``panel.io.document.schedule_write_events``: it sets the document's write block, adds the
message to ``_WRITE_MSGS`` and starts a ``_dispatch_msgs`` task). A running ``_dispatch_msgs`` takes the
queue, awaits the writes, and clears the block when nothing was left over. When its writes completed in
the same turn of the event loop as a new change was queued, it cleared the block although the new message
was waiting, and the task started for that message found no block and returned: the message stayed in
the queue until the session's next change, and where none came the browser kept an old picture for good
(about one forward-and-back in fifty in the curation grid left cards without pictures; a movie kept its
previous file; a card kept an old verdict). Panel has no option for this, and 1.9.4 is its newest
release, hence this wrapper: when a send finds messages stranded behind a cleared block, it sets the
block again and sends them, before anything newer (newer changes queue behind them while they wait).
"""

from __future__ import annotations

from typing import Any

from panel.io import document as panel_document

__all__ = ["send_every_queued_patch"]


def send_every_queued_patch() -> None:
    """Install the mended dispatcher (once per process; again is a no-op)."""
    if getattr(panel_document._dispatch_msgs, "_sends_every_queued_patch", False):
        return
    panel_sends = panel_document._dispatch_msgs

    async def dispatch_and_resend_stranded(doc: Any) -> None:
        await panel_sends(doc)
        if doc not in panel_document._WRITE_BLOCK and panel_document._WRITE_MSGS.get(doc):
            panel_document._WRITE_BLOCK[doc] = True
            panel_document._dispatch_write_task(doc, panel_document._dispatch_msgs, doc)

    dispatch_and_resend_stranded._sends_every_queued_patch = True  # type: ignore[attr-defined]
    panel_document._dispatch_msgs = dispatch_and_resend_stranded
