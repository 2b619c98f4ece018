"""One progress display for every long job: a rich bar (or a counter when the total is unknown) on stderr."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

__all__ = ["progress_bar", "track"]

Item = TypeVar("Item")


def progress_bar(
    console: Console | None = None,
    *,
    known_total: bool = True,
    unit: str = "items",
    status: bool = False,
    transient: bool = True,
) -> Progress:
    """Return a rich ``Progress`` with elkit's columns; use it as a context manager.

    Args:
        console: Where to draw; stderr when None.
        known_total: Show a bar and "done/total"; otherwise a running count of ``unit``.
        unit: What is counted, for the running count.
        status: Add a column showing each task's ``status`` field (pass ``status=""`` to ``add_task``).
        transient: Remove the display when it stops.
    """
    columns: list[TextColumn | BarColumn | MofNCompleteColumn | TimeElapsedColumn | SpinnerColumn] = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
    ]
    if known_total:
        columns += [BarColumn(), MofNCompleteColumn()]
    else:
        columns.append(TextColumn(f"{{task.completed:,}} {unit}"))
    columns.append(TimeElapsedColumn())
    if status:
        columns.append(TextColumn("{task.fields[status]}"))
    return Progress(*columns, console=console or Console(stderr=True), transient=transient)


def track(
    items: Iterable[Item], description: str, console: Console | None = None, total: int | None = None,
    unit: str = "documents",
) -> Iterator[Item]:
    """Yield ``items`` while a progress bar (or a running count, without ``total``) counts them."""
    with progress_bar(console, known_total=bool(total), unit=unit) as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)
