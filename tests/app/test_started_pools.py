"""The server's shared pools start all their threads at once: however many tasks come at once later (a chat
message or a click per person), the process's threads stay as they were."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from app.started_pools import start_pools


def _pool_threads(prefix: str) -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith(prefix + "_"))


def test_a_burst_of_tasks_adds_no_threads():
    async def burst(size: int) -> None:
        await asyncio.gather(*(asyncio.to_thread(time.sleep, 0.05) for _ in range(size)))

    loop = asyncio.new_event_loop()
    callbacks = ThreadPoolExecutor(3, thread_name_prefix="test-callbacks")
    before = _pool_threads("asyncio")  # other tests' event loops may have left their own default executors
    try:
        executor = start_pools(loop, callbacks, default_threads=4)
        started = (_pool_threads("asyncio") - before, _pool_threads("test-callbacks"))
        assert started == (4, 3), f"not every thread started at once: {started}"
        loop.run_until_complete(burst(12))
        list(callbacks.map(time.sleep, [0.05] * 9))
        assert (_pool_threads("asyncio") - before, _pool_threads("test-callbacks")) == (4, 3)
    finally:
        loop.close()
        executor.shutdown(wait=True)
        callbacks.shutdown(wait=True)
