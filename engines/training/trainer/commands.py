"""Commands for a running trainer (pause, resume, stop), read from the run folder's ``control.json``.

A file rather than an in-memory flag, so the same mechanism reaches a thread in the server,
a torchrun subprocess, or a process another server started before a restart. Commands
written before the run was (re)launched are ignored.
"""

from __future__ import annotations

from engines.training.runs import RunFolder

__all__ = ["CommandReader"]


class CommandReader:
    def __init__(self, folder: RunFolder, since: float) -> None:
        self.folder, self.since = folder, since
        self._seq = 0
        self._mtime = -1

    def _stat(self) -> int:
        try:
            return self.folder.control_path.stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def poll(self) -> str | None:
        """The newest unseen command, or None; costs one ``stat`` when nothing changed."""
        mtime = self._stat()
        if mtime == self._mtime:
            return None
        self._mtime = mtime
        control = self.folder.read_control()
        seq = int(control.get("seq", 0))
        if seq <= self._seq or float(control.get("time", 0)) < self.since:
            return None
        self._seq = seq
        command = control.get("command")
        return command if command in ("pause", "resume", "stop") else None
