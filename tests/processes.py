"""Running test worker processes: start them all, wait, and leave none behind."""

from __future__ import annotations

from collections.abc import Sequence
from multiprocessing.process import BaseProcess


def run_all(processes: Sequence[BaseProcess], timeout: float = 120) -> None:
    """Start every process, wait for each, and assert they all exited cleanly; a process
    still running after ``timeout`` seconds is killed."""
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=timeout)
    try:
        assert [p.exitcode for p in processes] == [0] * len(processes)
    finally:
        for p in processes:
            if p.is_alive():
                p.kill()
                p.join()
            p.close()
