"""``atomic_write``: readers never see half a file, writers never collide, failures keep the old file."""

from __future__ import annotations

import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from engines._filesystem import atomic_write, atomic_writer

_SIZE = 256 * 1024


def _payload(writer: int) -> bytes:
    return bytes([65 + writer]) * _SIZE


def _write_many(path: str, writer: int, times: int) -> None:
    for _ in range(times):
        atomic_write(Path(path), _payload(writer))


def test_atomic_write_replaces_the_file_and_leaves_no_temporary_file(tmp_path: Path):
    target = tmp_path / "state.json"
    target.write_text("old")
    atomic_write(target, "new ✓")
    atomic_write(tmp_path / "blob.bin", b"\x00\x01")
    assert target.read_text(encoding="utf-8") == "new ✓"
    assert (tmp_path / "blob.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blob.bin", "state.json"]


def test_atomic_write_keeps_the_old_file_mode(tmp_path: Path):
    target = tmp_path / "passwords"
    target.write_text("old")
    target.chmod(0o640)
    atomic_write(target, "new")
    assert target.stat().st_mode & 0o777 == 0o640
    atomic_write(target, "newer", permissions=0o600)
    assert target.stat().st_mode & 0o777 == 0o600


def test_a_failing_write_keeps_the_old_content_and_removes_its_temporary_file(tmp_path: Path):
    target = tmp_path / "notes.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"), atomic_writer(target, text=True) as handle:
        handle.write("half of the new")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_concurrent_writers_never_collide_and_threads_never_read_a_partial_file(tmp_path: Path):
    target = tmp_path / "shared.bin"
    atomic_write(target, _payload(0))
    seen: set[bytes] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            data = target.read_bytes()
            seen.add(data[:1] + data[-1:] + len(data).to_bytes(4, "big"))

    readers = [threading.Thread(target=read) for _ in range(2)]
    writers = [threading.Thread(target=_write_many, args=(str(target), w, 40)) for w in range(4)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()
    whole = {bytes([65 + w]) * 2 + _SIZE.to_bytes(4, "big") for w in range(4)}
    assert seen and seen <= whole
    assert [p.name for p in tmp_path.iterdir()] == ["shared.bin"]


def test_processes_writing_at_once_leave_one_whole_file(tmp_path: Path):
    target = tmp_path / "shared.bin"
    with ProcessPoolExecutor(3) as pool:
        for future in [pool.submit(_write_many, str(target), w, 20) for w in range(3)]:
            future.result()
        data = target.read_bytes()
    assert data in {_payload(w) for w in range(3)}
    assert [p.name for p in tmp_path.iterdir()] == ["shared.bin"]


def test_a_cache_write_without_fsync_still_replaces_whole(tmp_path: Path):
    target = tmp_path / "block-0"
    atomic_write(target, b"old")
    atomic_write(target, b"new", durable=False)
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["block-0"]
