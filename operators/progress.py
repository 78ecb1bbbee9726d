"""A progress display for training loops that can be switched off entirely."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

__all__ = ["progress_bar"]


class _Silent:
    def update(self, advance: int = 1, status: str = "") -> None:
        pass


class _Rich:
    def __init__(self, progress: Any, task: Any) -> None:
        self._progress, self._task = progress, task

    def update(self, advance: int = 1, status: str = "") -> None:
        self._progress.update(self._task, advance=advance, status=status)


@contextmanager
def progress_bar(total: int, description: str, enabled: bool = True) -> Iterator[_Silent | _Rich]:
    """A rich progress bar (``enabled``) or a no-op with the same ``update(advance, status)``.

    rich is imported only when the bar is shown, so the package itself needs only torch,
    numpy and pymoo.
    """
    if not enabled:
        yield _Silent()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with Progress(*columns, transient=False) as progress:
        yield _Rich(progress, progress.add_task(description, total=total, status=""))
