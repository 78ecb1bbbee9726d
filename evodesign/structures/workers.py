"""Worker processes for structure work: CHGNet loaded once per process, a time limit per task.

A task is any module-level function (``verify_composition``, ``reference_element``, the
calibration's prototype relaxation): it travels to the worker pickled by reference (its
module and name), so this module needs to know none of them and the modules that use the
pool import it, never the reverse.

A worker past a task's time limit is killed (CHGNet and pyxtal cannot be interrupted
otherwise) and replaced on the next call.
"""

from __future__ import annotations

import threading
import traceback
from typing import Any, Callable

__all__ = ["WorkerPool"]


def _serve(conn: Any) -> None:
    """Worker process loop: load CHGNet once, then run tasks until told to stop."""
    try:
        from evodesign.structures.relaxation import load_chgnet

        load_chgnet()
        conn.send(("ready", None))
    except BaseException:
        conn.send(("error", traceback.format_exc(limit=3)))
        return
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        task, args = message
        try:
            conn.send(("ok", task(*args)))
        except BaseException as err:  # report, keep serving
            conn.send(("error", f"{type(err).__name__}: {err}"))


class _Worker:
    """One spawned process serving tasks; killed when a task runs past its limit."""

    def __init__(self, start_timeout: float) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child,), daemon=True)
        self.process.start()
        child.close()
        if not self.conn.poll(start_timeout):
            self.kill()
            raise RuntimeError(f"worker did not load CHGNet within {start_timeout:.0f} s")
        kind, value = self.conn.recv()
        if kind != "ready":
            self.kill()
            raise RuntimeError(f"worker failed to start: {value}")

    def call(self, task: Callable[..., Any], args: tuple[Any, ...], timeout: float) -> tuple[str, Any]:
        self.conn.send((task, args))
        if not self.conn.poll(timeout):
            self.kill()
            return "timed_out", f"no result within {timeout:g} s; worker killed"
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            self.kill()
            return "error", f"worker died (exit code {self.process.exitcode})"

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=10)
        self.conn.close()

    def close(self) -> None:
        if self.process.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.process.join(timeout=10)
        self.kill()


class WorkerPool:
    """One worker process per calling thread (joblib's threading backend), replaced after a
    kill.

    Args:
        start_timeout: seconds a new worker may take to load CHGNet.

    Example:
        >>> pool = WorkerPool()                                              # doctest: +SKIP
        >>> pool.call(reference_element, ("Fe", settings, 0, ()), 180.0)     # doctest: +SKIP
        ('ok', {'energy_per_atom': -8.3, ...})
    """

    def __init__(self, start_timeout: float = 300.0) -> None:
        self._local = threading.local()
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self.start_timeout = start_timeout

    def call(self, task: Callable[..., Any], args: tuple[Any, ...], timeout: float) -> tuple[str, Any]:
        """Run ``task(*args)`` in this thread's worker.

        Args:
            task: a module-level function (pickled by reference).
            args: its arguments (picklable).
            timeout: seconds before the worker is killed.

        Returns:
            ``("ok", result)``, ``("timed_out", reason)`` or ``("error", reason)``.
        """
        worker = getattr(self._local, "worker", None)
        if worker is None:
            try:
                worker = _Worker(self.start_timeout)
            except RuntimeError as err:
                return "error", str(err)
            with self._lock:
                self._workers.append(worker)
            self._local.worker = worker
        kind, value = worker.call(task, args, timeout)
        if not worker.process.is_alive():
            self._local.worker = None
        return kind, value

    def close(self) -> None:
        """Stop every worker (those still busy are killed)."""
        for worker in self._workers:
            worker.close()
