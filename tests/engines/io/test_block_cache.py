"""The block cache's disk writes wait while a file's tree is read, and never longer than their bound."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engines.io import block_cache
from engines.io.block_cache import DiskBlocks, flush_disk_writes, writes_deferred


def _on_disk(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if not p.name.endswith(".partial")}


def test_blocks_fetched_during_an_open_reach_the_disk_once_it_is_done(tmp_path):
    blocks = DiskBlocks(tmp_path)
    with writes_deferred():
        blocks.set("url|32768|0", b"x" * 100)
        blocks.set("url|32768|1", b"y" * 100)
        time.sleep(0.3)  # the writer would have written them by now
        assert _on_disk(tmp_path) == set(), "a block was written while the tree was being read"
    flush_disk_writes()
    assert _on_disk(tmp_path) == {"32768-0", "32768-1"}
    assert DiskBlocks(tmp_path).get("url|32768|1") == b"y" * 100


def test_opens_that_never_stop_delay_writes_only_up_to_the_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(block_cache, "MAX_DEFER_S", 0.3)
    flush_disk_writes()  # nothing of another test's left in the queue
    blocks = DiskBlocks(tmp_path)
    with writes_deferred():
        blocks.set("url|32768|7", b"z")
        deadline = time.monotonic() + 5
        while not _on_disk(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _on_disk(tmp_path) == {"32768-7"}, "writes waited past their bound"
        assert time.monotonic() < deadline


@pytest.mark.parametrize("nested", [1, 3])
def test_every_open_counts_until_the_last_one_ends(tmp_path, nested):
    blocks = DiskBlocks(tmp_path)
    opens = [writes_deferred() for _ in range(nested)]
    for each in opens:
        each.__enter__()
    blocks.set("url|32768|2", b"w")
    for each in opens[:-1]:
        each.__exit__(None, None, None)
    time.sleep(0.3)
    assert _on_disk(tmp_path) == set()
    opens[-1].__exit__(None, None, None)
    flush_disk_writes()
    assert _on_disk(tmp_path) == {"32768-2"}


def test_closing_a_file_while_another_opens_writes_its_blocks_without_waiting(tmp_path):
    blocks = DiskBlocks(tmp_path)
    with writes_deferred():  # someone else's open, going on for seconds
        blocks.set("url|32768|3", b"v")
        started = time.monotonic()
        flush_disk_writes()  # what closing a file does
        assert time.monotonic() - started < 1.0
        assert _on_disk(tmp_path) == {"32768-3"}
