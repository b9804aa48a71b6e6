"""Is a folder on a network filesystem? SQLite's WAL mode is unsafe there; the rollback journal is not.

Workers on several machines share one workspace over NFS, SMB, Lustre and the like. WAL keeps
its index in shared memory, which only processes on one host can share, so on such a
filesystem the store uses the rollback journal, which relies on POSIX locks instead.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["is_network_filesystem", "NETWORK_FILESYSTEMS"]

NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "lustre", "gpfs", "beegfs", "ceph", "glusterfs",
    "fuse.sshfs", "fuse.glusterfs", "fuse.cephfs", "9p", "afs", "ocfs2", "gfs2",
})


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
