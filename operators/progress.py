"""A progress display for training loops that can be switched off entirely."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

__all__ = ["progress_bar"]


class _Silent:
    def update(self, advance: int = 1, status: str = "") -> None:
        pass


class _Lines:
    """Plain progress lines for logs (stdout not a terminal): at most one per 10% or 30 s."""

    def __init__(self, total: int, description: str) -> None:
        import time

        self._time = time.monotonic
        self.total, self.description = max(int(total), 1), description
        self.done, self._start = 0, self._time()
        self._last_time, self._last_step = self._start, 0

    def update(self, advance: int = 1, status: str = "") -> None:
        self.done += advance
        now = self._time()
        step = 10 * self.done // self.total
        if step > self._last_step or now - self._last_time >= 30 or self.done >= self.total:
            self._last_step, self._last_time = step, now
            minutes, seconds = divmod(int(now - self._start), 60)
            print(f"{self.description} {self.done}/{self.total} {minutes}:{seconds:02d} {status}", flush=True)


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
    import sys

    if not sys.stdout.isatty():  # a log file: rich would print nothing until the end
        yield _Lines(total, description)
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
