"""Rich progress bars with count, rate and ETA, for every long loop."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")

console = Console(stderr=True)


def progress_bar(transient: bool = False) -> Progress:
    """A progress bar showing done/total, percentage, rate, elapsed time and ETA."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
        transient=transient,
    )


def rate_text(progress: Progress, task_id: int, unit: str = "it") -> str:
    """Rate of a task as text, e.g. '3.2 cases/s' or '12.5 s/case'."""
    speed = progress.tasks[task_id].speed if task_id < len(progress.tasks) else None
    if not speed:
        return ""
    return f"{speed:.2f} {unit}/s" if speed >= 1 else f"{1 / speed:.1f} s/{unit}"


def track(
    items: Iterable[T], description: str, total: int | None = None, unit: str = "it"
) -> Iterator[T]:
    """Iterate with a progress bar."""
    items = list(items) if total is None and not hasattr(items, "__len__") else items
    total = total if total is not None else len(items)  # type: ignore[arg-type]
    with progress_bar() as bar:
        task = bar.add_task(description, total=total, rate="", status="")
        for item in items:
            yield item
            bar.advance(task)
            bar.update(task, rate=rate_text(bar, task, unit))
