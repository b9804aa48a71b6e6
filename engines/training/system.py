"""System load for the page's gauges: CPU, RAM and (when torch with CUDA is already loaded) GPU memory.

Never imports torch itself: the page can show load without the training extra installed.
"""

from __future__ import annotations

import sys
from typing import Any

import psutil

__all__ = ["system_load"]


def system_load() -> dict[str, Any]:
    """{"cpu_percent", "ram_used_gb", "ram_total_gb", "process_rss_gb", "gpus": [{"name", "memory_used_gb",
    "memory_total_gb"}]}; costs a few system calls (no sampling delay: CPU % is since the previous call)."""
    memory = psutil.virtual_memory()
    load: dict[str, Any] = {
        "cpu_percent": psutil.cpu_percent(None),
        "ram_used_gb": (memory.total - memory.available) / 2**30,
        "ram_total_gb": memory.total / 2**30,
        "process_rss_gb": psutil.Process().memory_info().rss / 2**30,
        "gpus": [],
    }
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(index)
            load["gpus"].append(
                {
                    "name": torch.cuda.get_device_name(index),
                    "memory_used_gb": (total - free) / 2**30,
                    "memory_total_gb": total / 2**30,
                }
            )
    return load
