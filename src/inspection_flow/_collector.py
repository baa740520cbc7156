"""Python's cyclic garbage collector paused while a large write runs.

A write of thousands of commands keeps every command's event, snapshot and rows alive
until it ends, and the collections those allocations set off walk them again and again
without finding anything to free: about a fifth of an import's time (see
docs/performance.md).  The ledger makes no reference cycles of its own, so pausing the
collector for the length of a write frees nothing later than it would have been freed.

The pause is process-wide, as the collector is.  Nested and concurrent pauses (batches in
several threads) count: the collector is enabled again when the last one ends, and only
if it was enabled when the first one began, so a program that disables the collector
itself keeps it disabled.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (reference counting goes on)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            if _was_enabled:
                gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
