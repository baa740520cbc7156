"""What every benchmark prints of the machine it ran on (its load and its speed), and its
verdicts.

A benchmark's absolute figures (seconds, milliseconds of CPU per command) belong to the
machine it ran on.  Each benchmark prints the time of the loop below beside its figures,
so that figures taken on different machines can be set side by side; its ratios against
a yardstick in the same run are what it judges.  The loop runs in a function, on local
names: the same additions written at a module's top level go through global names and
take about three times as long, so a figure taken that way is not comparable.
"""

from __future__ import annotations

import os
import time


def load() -> str:
    """The load averages over 1, 5 and 15 minutes."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def python_speed() -> str:
    """How fast the machine runs pure Python now: a loop of ten million additions."""
    start = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    seconds = time.perf_counter() - start
    assert total == 49_999_995_000_000
    return f"a loop of ten million additions took {seconds:.2f} s"


def verdict(passed: bool) -> str:
    """A target's verdict as the benchmarks print it."""
    return "PASS" if passed else "FAIL"
