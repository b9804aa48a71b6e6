"""Start an IPython kernel with a memory limit: ``python -m engines.kernel._launcher --memory-mb N -f
conn.json``.

The limit is the kernel process's address space (``RLIMIT_AS``), set before IPython starts,
so an allocation past it raises ``MemoryError`` in the user's code instead of exhausting the
server's machine. The figure display hooks (``_kernel_setup``) run as the kernel's start-up lines.
"""

from __future__ import annotations

import resource
import sys


def _limit_memory(megabytes: int) -> None:
    if megabytes > 0:
        limit = megabytes * 2**20
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(
            resource.RLIMIT_AS, (limit, limit)
        )  # hard too: the user's code cannot raise it again


def main(argv: list[str]) -> None:
    megabytes = 0
    if "--memory-mb" in argv:
        at = argv.index("--memory-mb")
        megabytes = int(argv[at + 1])
        argv = argv[:at] + argv[at + 2 :]
    _limit_memory(megabytes)
    from ipykernel.kernelapp import launch_new_instance

    from engines.kernel._kernel_setup import SETUP_CODE

    launch_new_instance(argv=[*argv, f"--IPKernelApp.exec_lines={SETUP_CODE}"])


if __name__ == "__main__":
    main(sys.argv[1:])
