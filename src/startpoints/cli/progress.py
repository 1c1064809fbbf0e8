"""Per-source progress: a rich bar on a TTY, silence otherwise (failures are reported anyway)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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
