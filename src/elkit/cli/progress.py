"""Progress display for long commands: a live counter on stderr and a summary at the end."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

__all__ = ["track"]

Item = TypeVar("Item")


def track(items: Iterable[Item], description: str, console: Console, total: int | None = None) -> Iterator[Item]:
    """Yield ``items`` while a rich progress bar (or counter, without ``total``) counts them on ``console``."""
    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    columns += [BarColumn(), MofNCompleteColumn()] if total else [TextColumn("{task.completed:,} documents")]
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)
