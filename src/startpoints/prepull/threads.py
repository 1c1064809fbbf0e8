"""The pull's workers: daemon threads, so a hanging pull never holds a stopping process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence


def on_daemon_threads(work: Callable[[str], bool], items: Sequence[str], jobs: int) -> list[bool]:
    """`work` over `items` on at most `jobs` daemon threads. Not a ThreadPoolExecutor: Python
    joins its workers at exit, so a pull hanging in the runtime, or one sleeping before a
    retry, would hold a stopping process past its grace period. Daemon threads end with it."""
    pending = iter(enumerate(items))
    taking = threading.Lock()
    results: list[bool] = [False] * len(items)

    def worker() -> None:
        while True:
            with taking:
                index, item = next(pending, (-1, ""))
            if index < 0:
                return
            results[index] = work(item)

    threads = [
        threading.Thread(target=worker, name="startpoints-pull", daemon=True)
        for _ in range(min(jobs, len(items)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()  # interruptible: a signal's handler runs in the waiting main thread
    return results
