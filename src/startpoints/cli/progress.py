"""Progress, per source or in bytes: a rich bar on a TTY, silence otherwise (failures are
reported anyway)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Done = Callable[[str, "str | None"], None]


@contextmanager
def sources(total: int, what: str) -> Iterator[Done]:
    if not sys.stderr.isatty():
        yield lambda _source, _error: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(what, total=total)

        def done(source: str, error: str | None) -> None:
            if error:
                progress.console.print(f"[red]✗[/red] {source}")
            progress.advance(task)

        yield done


@contextmanager
def pulling(puller: Any) -> Iterator[Done]:
    """A pre-pull's bar: bytes done of all, with the rate and time left, where the catalog
    gives sizes (else images done of all), refreshed from the puller as it goes."""
    count = len(puller.images)
    if not sys.stderr.isatty():
        yield lambda _image, _error: None
        return
    import threading

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    sized = puller.progress()["sized"] > 0
    amount = (
        (DownloadColumn(binary_units=True), TransferSpeedColumn())
        if sized
        else (MofNCompleteColumn(),)
    )
    columns = (TextColumn("{task.description}"), BarColumn(), *amount, TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        total = puller.progress()["bytes_total"] if sized else count
        task = bar.add_task(f"pulling {count} images", total=total)
        finished = threading.Event()
        images_done = 0

        def refresh() -> None:
            while not finished.wait(0.2):
                done = puller.progress()["bytes_done"] if sized else images_done
                bar.update(task, completed=done)

        threading.Thread(target=refresh, daemon=True).start()

        def done(image: str, error: str | None) -> None:
            nonlocal images_done
            images_done += 1
            if error:
                bar.console.print(f"[red]✗[/red] {image}")

        try:
            yield done
        finally:
            finished.set()
