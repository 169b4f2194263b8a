"""A progress bar with rate and time left on a terminal (rich, on stderr); nothing when not a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(total: int, *, force: bool | None = None) -> Iterator[Callable[[int], None]]:
    """Yields ``advance(n)``; draws only when stderr is a terminal (or ``force``)."""
    show = sys.stderr.isatty() if force is None else force
    if not show:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("scrubbing"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]} charges/s"),
        TimeRemainingColumn(),
    )
    console = Console(stderr=True, force_terminal=True if force else None)
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("scrub", total=total, rate="-")

        def advance(n: int) -> None:
            bar.advance(task, n)
            speed = bar.tasks[0].speed
            bar.update(task, rate=f"{speed:,.0f}" if speed else "-")

        yield advance
