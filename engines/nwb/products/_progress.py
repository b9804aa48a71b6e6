"""The progress callback every product takes: ``progress(fraction in [0, 1], message)``.

A job passes its ``JobContext.report``; tests pass a list's ``append``. It may raise to stop
the work (a cancelled job), so products call it between blocks, never while holding a file.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[float, str], None]
