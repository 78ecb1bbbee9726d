"""One ``evodesign bench search`` per run folder: a lock file holding the owner's pid.

Two benchmarks writing the same run folders at once would read each other's checkpoints.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable
from pathlib import Path

from evodesign.exceptions import EvodesignError

__all__ = ["lock_runs"]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def lock_runs(folder: Path) -> Callable[[], None]:
    """Claim ``folder`` for this process.

    A lock left by a process that no longer exists is taken over.

    Args:
        folder: the run folder of the benchmark (created if missing).

    Returns:
        The release function (also registered to run at exit).

    Raises:
        EvodesignError: another live process holds the lock.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".bench.lock"
    mine = str(os.getpid())
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                owner = int(path.read_text().strip() or 0)
            except (OSError, ValueError):
                owner = 0
            if owner and owner != os.getpid() and _pid_alive(owner):
                raise EvodesignError(
                    f"another `evodesign bench search` (pid {owner}) is writing runs to {folder}; "
                    "wait for it to finish or give this one another --out"
                ) from None
            path.unlink(missing_ok=True)  # stale: its process is gone
            continue
        os.write(fd, mine.encode())
        os.close(fd)
        break

    def release() -> None:
        try:
            if path.read_text().strip() == mine:
                path.unlink()
        except OSError:
            pass

    atexit.register(release)
    return release
