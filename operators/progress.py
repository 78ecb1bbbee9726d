"""One progress display for every training loop: the surrogate ensemble, the VAE, the GAN.

:func:`progress_bar` shows, in a terminal, a rich progress bar with the run label, the
stage, ``done/total`` epochs or steps, the elapsed time, the time left and a status (e.g.
the best validation loss). When stdout is not a terminal (a log file, CI, a joblib or dask
worker) rich would draw nothing useful, so it prints plain lines instead, with the same
facts, at the first update, then every :data:`LINE_INTERVAL_S` seconds and at the end::

    [seed1] surrogate (5 networks): epoch 40/200 (20%), 0:31 elapsed, ETA <= 2:04 | best val 0.4123

The run label comes from the ``label`` argument or, when that is not given, from the
innermost :func:`run_label` block, so a caller that runs several seeds at once sets the
label once around each run and every line inside carries it. :func:`labelled` prefixes
any other line (e.g. one per generation) the same way.

The display only reads numbers the loops computed anyway; it draws no random numbers and
runs no tensor operations, so training is bit-identical with and without it.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterator

__all__ = ["LINE_INTERVAL_S", "current_label", "labelled", "progress_bar", "run_label"]

#: Seconds between plain progress lines when stdout is not a terminal.
LINE_INTERVAL_S = 30.0

_LABEL: ContextVar[str | None] = ContextVar("evodesign_run_label", default=None)


@contextmanager
def run_label(label: str | None) -> Iterator[None]:
    """Label every progress bar and :func:`labelled` line inside the block.

    Args:
        label: e.g. the run id ``"seed3"``; ``None`` or ``""`` means no label.

    Example:
        >>> with run_label("seed3"):
        ...     labelled("gen 1/40")
        '[seed3] gen 1/40'
    """
    token = _LABEL.set(label or None)
    try:
        yield
    finally:
        _LABEL.reset(token)


def current_label() -> str | None:
    """The label of the innermost :func:`run_label` block, or ``None``."""
    return _LABEL.get()


def labelled(text: str, label: str | None = None) -> str:
    """``text`` prefixed with ``[label] `` (``label`` or :func:`current_label`), if any."""
    label = label if label is not None else current_label()
    return f"[{label}] {text}" if label else text


def _clock(seconds: float) -> str:
    """``0:31``, ``12:05`` or ``1:02:03``."""
    seconds = max(int(round(seconds)), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class _Silent:
    """The display switched off: the same methods, doing nothing."""

    def update(self, advance: int = 1, status: str | None = None) -> None:
        pass

    def close(self) -> None:
        pass


class _Lines:
    """Plain lines (stdout not a terminal): first update, every ``interval`` s, and the end."""

    def __init__(
        self,
        total: int,
        description: str,
        *,
        unit: str,
        label: str | None,
        early_stop: bool,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        write: Callable[[str], None] | None = None,
    ) -> None:
        self.total, self.description, self.unit = max(int(total), 1), description, unit
        self.label, self.early_stop, self.interval = label, early_stop, interval
        self._clock = clock
        self._write = write or (lambda line: print(line, flush=True))
        self.done, self.status = 0, ""
        self._start = self._clock()
        self._last: float | None = None

    def line(self, final: bool = False) -> str:
        """The current state as one line."""
        elapsed = self._clock() - self._start
        text = f"{self.description}: {self.unit} {self.done}/{self.total}"
        if final:
            text += f", done in {_clock(elapsed)}"
            if self.done < self.total:
                text += " (stopped early)"
        else:
            text += f" ({100 * self.done // self.total}%), {_clock(elapsed)} elapsed"
            if self.done:
                left = elapsed / self.done * (self.total - self.done)
                text += f", ETA {'<= ' if self.early_stop else ''}{_clock(left)}"
        if self.status:
            text += f" | {self.status}"
        return labelled(text, self.label or "")

    def update(self, advance: int = 1, status: str | None = None) -> None:
        self.done = min(self.done + int(advance), self.total)
        if status is not None:
            self.status = status
        now = self._clock()
        if self._last is None or now - self._last >= self.interval:
            self._last = now
            self._write(self.line())

    def close(self) -> None:
        self._write(self.line(final=True))


class _Rich:
    def __init__(self, progress: Any, task: Any, total: int) -> None:
        self._progress, self._task, self.total, self.done = progress, task, total, 0

    def update(self, advance: int = 1, status: str | None = None) -> None:
        self.done = min(self.done + int(advance), self.total)
        fields = {} if status is None else {"status": status}
        self._progress.update(self._task, advance=advance, **fields)

    def close(self) -> None:
        if self.done < self.total:  # stopped early: show the bar complete at what was run
            self._progress.update(self._task, total=self.done, completed=self.done)


def _rich_progress() -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TextColumn("{task.fields[unit]}", markup=False),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA", markup=False),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}", markup=False),
        transient=False,
    )


@contextmanager
def progress_bar(
    total: int,
    description: str,
    enabled: bool = True,
    *,
    unit: str = "step",
    label: str | None = None,
    early_stop: bool = False,
    interval: float | None = None,
) -> Iterator[_Silent | _Lines | _Rich]:
    """A progress display with ``update(advance=1, status=None)``; see the module docstring.

    Args:
        total: steps expected (the most, when the loop may stop early).
        description: the stage, e.g. ``"surrogate (5 networks)"`` or ``"VAE"``.
        enabled: ``False``: a no-op with the same methods.
        unit: what a step is called (``"epoch"``, ``"step"``).
        label: run label; default the innermost :func:`run_label`.
        early_stop: the loop may end before ``total``: the time left is an upper bound
            (``ETA <=``), and the end line says it stopped early.
        interval: seconds between plain lines; default :data:`LINE_INTERVAL_S`.

    Yields:
        The display; ``update(advance, status)`` moves it on by ``advance`` steps and, when
        ``status`` is given, replaces the status text (``None`` keeps the last one).
    """
    if not enabled:
        yield _Silent()
        return
    label = label if label is not None else current_label()
    if not sys.stdout.isatty():
        lines = _Lines(
            total, description, unit=unit, label=label, early_stop=early_stop,
            interval=LINE_INTERVAL_S if interval is None else interval,
        )
        yield lines
        lines.close()
        return
    # rich is imported only when a bar is shown: the operators need only torch, numpy, pymoo
    from rich.errors import LiveError

    progress = _rich_progress()
    try:
        progress.start()
    except LiveError:  # another live display is active (a bar inside a bar): plain lines
        lines = _Lines(total, description, unit=unit, label=label, early_stop=early_stop,
                       interval=LINE_INTERVAL_S if interval is None else interval)
        yield lines
        lines.close()
        return
    try:
        task = progress.add_task(labelled(description, label or ""), total=max(int(total), 1),
                                 status="", unit=unit)
        bar = _Rich(progress, task, max(int(total), 1))
        yield bar
        bar.close()
    finally:
        progress.stop()
