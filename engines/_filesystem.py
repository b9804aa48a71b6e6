"""The workspace shared by several processes: its filesystem, a lock to build a thing once, atomic writes.

Workers on several machines share one workspace over NFS, SMB, Lustre and the like. WAL keeps
its index in shared memory, which only processes on one host can share, so on such a
filesystem the store uses the rollback journal, which relies on POSIX locks instead.

``build_lock`` lets one process (or thread) of all those sharing a workspace build something
(an NWB index, a demo) while the others wait for it, up to a deadline, and then read what it
built. It is ``flock`` on a file under ``<workspace>/locks/``: the kernel releases it when the
holder dies, so a crash never leaves a stale lock, and Linux's NFS client maps it onto NFS
byte-range locks, so it holds across hosts. On NFS those are per process, so threads of one
process also take an in-process lock first. The lock file is removed on release (one a built
thing would otherwise pile up); a waiter that got a removed file's lock tries again.

``atomic_write`` (and ``atomic_writer`` for writers that stream) is the one way a file is
replaced: written under a unique temporary name in the same folder, flushed and fsynced, then
renamed over the target and the folder fsynced. A reader in any process sees the old file or
the new one, never half of one; two writers never share a temporary file (the last complete
rename wins); a crash or failed write leaves the old content and no temporary file behind.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["is_network_filesystem", "NETWORK_FILESYSTEMS", "build_lock", "atomic_write", "atomic_writer"]

NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "lustre",
        "gpfs",
        "beegfs",
        "ceph",
        "glusterfs",
        "fuse.sshfs",
        "fuse.glusterfs",
        "fuse.cephfs",
        "9p",
        "afs",
        "ocfs2",
        "gfs2",
    }
)


def filesystem_type(path: Path, mounts_text: str | None = None) -> str | None:
    """The type of the filesystem holding ``path``, from ``/proc/mounts`` (None off Linux)."""
    if mounts_text is None:
        try:
            mounts_text = Path("/proc/mounts").read_text()
        except OSError:
            return None
    target = os.path.realpath(path)
    best, best_type = "", None
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point = fields[1].replace("\\040", " ")
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, best_type = mount_point, fields[2]
    return best_type


def is_network_filesystem(path: Path, mounts_text: str | None = None) -> bool:
    return (filesystem_type(path, mounts_text) or "") in NETWORK_FILESYSTEMS


_thread_locks: dict[str, tuple[threading.Lock, int]] = {}
_thread_locks_guard = threading.Lock()


@contextmanager
def _thread_lock(key: str, deadline: float) -> Iterator[bool]:
    """One ``threading.Lock`` per lock file in this process, kept while someone uses it."""
    with _thread_locks_guard:
        lock, users = _thread_locks.get(key, (threading.Lock(), 0))
        _thread_locks[key] = (lock, users + 1)
    held = lock.acquire(timeout=max(0.0, deadline - time.monotonic()))
    try:
        yield held
    finally:
        if held:
            lock.release()
        with _thread_locks_guard:
            lock, users = _thread_locks[key]
            if users == 1:
                del _thread_locks[key]
            else:
                _thread_locks[key] = (lock, users - 1)


def _flock(path: Path, deadline: float, poll_s: float) -> int | None:
    """A descriptor holding ``flock(LOCK_EX)`` on the file now at ``path``, or None at the deadline."""
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        os.close(descriptor)
                        return None
                    time.sleep(poll_s)
            try:
                current = os.stat(path).st_ino == os.fstat(descriptor).st_ino
            except FileNotFoundError:
                current = False
        except BaseException:
            os.close(descriptor)
            raise
        if current:
            return descriptor
        os.close(descriptor)  # its holder removed that file on release: lock the one at ``path`` now


@contextmanager
def build_lock(workspace: Path, name: str, wait_s: float, poll_s: float = 0.05) -> Iterator[bool]:
    """Hold the workspace-wide lock ``name`` (a file name) while the block runs, waiting up to ``wait_s``.

    Yields True when held, False when the deadline passed first (a holder that hangs must not
    freeze everyone: the caller goes on without it, and must tolerate another builder, e.g.
    by writing through a rename). Callers check again, once inside, whether the thing is built.
    """
    folder = Path(workspace) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.lock"
    deadline = time.monotonic() + wait_s
    with _thread_lock(str(path), deadline) as thread_held:
        descriptor = _flock(path, deadline, poll_s) if thread_held else None
        try:
            yield descriptor is not None
        finally:
            if descriptor is not None:
                path.unlink(missing_ok=True)
                os.close(descriptor)


def _default_permissions(path: Path) -> int:
    """The mode ``open(path, "w")`` would give (``mkstemp`` makes 0600): the old file's, else by umask."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        pass
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o644


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; some filesystems (and all of Windows) refuse to open a folder: skip."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


@contextmanager
def atomic_writer(
    path: Path | str, text: bool = False, *, permissions: int | None = None, durable: bool = True
) -> Iterator[IO[Any]]:
    """A file for ``path``'s new content (UTF-8 text when ``text``); it replaces ``path`` as the block ends.

    If the block raises, ``path`` keeps its old content and the temporary file is removed.
    ``permissions`` defaults to the old file's mode (or what the umask gives a new file).
    ``durable=False`` skips both fsyncs, for caches that can be fetched again: the rename still
    keeps readers from half a file, but a power cut may leave an empty one.
    """
    path = Path(path)
    mode = _default_permissions(path) if permissions is None else permissions
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(descriptor, "w" if text else "wb", encoding="utf-8" if text else None) as handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            if durable:
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    if durable:
        _fsync_folder(path.parent)


def atomic_write(
    path: Path | str, data: bytes | str, *, permissions: int | None = None, durable: bool = True
) -> Path:
    """Replace ``path`` with ``data`` (``str`` as UTF-8) so no reader ever sees half of it; returns ``path``.

    Costs one fsync of the file and one of its folder: slow on network filesystems, so write
    whole documents, never one per record.
    """
    with atomic_writer(path, isinstance(data, str), permissions=permissions, durable=durable) as handle:
        handle.write(data)
    return Path(path)
