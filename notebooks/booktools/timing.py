"""Clocks and counters for chapter 11's measurements (cost_lab/) and `make bench`.

Machinery around the lesson, with no DBOS call in it: timing calls (wall clock and the
calling thread's CPU time), medians over rounds, counting the write transactions a thread
commits, and writing milliseconds and ratios the same way everywhere.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import sqlalchemy as sa

# --- Timing --------------------------------------------------------------------------


def ms_per_call(fn: Callable[[int], object], calls: int) -> float:
    """Milliseconds per call of fn(i), over `calls` calls in a row."""
    start = time.perf_counter()
    for i in range(calls):
        fn(i)
    return (time.perf_counter() - start) * 1000 / calls


def ms_each(fn: Callable[[int], object], calls: int) -> tuple[list[float], list[float]]:
    """For each of `calls` calls of fn(i): the milliseconds it took (wall clock), and
    the CPU milliseconds this thread spent on it (time.thread_time). The difference
    is time spent waiting: for the database, the disk, or other processes."""
    wall, cpu = [], []
    for i in range(calls):
        start, start_cpu = time.perf_counter(), time.thread_time()
        fn(i)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    return wall, cpu


class Samples:
    """Timings in milliseconds, gathered under names over several rounds. Each figure
    is the median of its samples, so that a burst of load on the machine that slows a
    few calls does not move it."""

    def __init__(self) -> None:
        self.ms: dict[str, list[float]] = {}

    def add(self, name: str, values: list[float]) -> None:
        self.ms.setdefault(name, []).extend(values)

    def each_call(self, name: str, fn: Callable[[int], object], calls: int) -> None:
        """Time `calls` calls of fn(i), one sample each: wall clock under `name`,
        the calling thread's CPU time under `name-cpu`."""
        wall, cpu = ms_each(fn, calls)
        self.add(name, wall)
        self.add(f"{name}-cpu", cpu)

    def in_batches(self, name: str, fn: Callable[[int], object], calls: int,
                   batches: int) -> None:
        """For calls too fast to time alone: `batches` samples, each the average
        of `calls` calls in a row."""
        self.add(name, [ms_per_call(fn, calls) for _ in range(batches)])

    @contextmanager
    def per_operation(self, name: str, operations: int) -> Iterator[None]:
        """One sample: the time the block took, divided by its `operations`."""
        start = time.perf_counter()
        yield
        self.add(name, [(time.perf_counter() - start) * 1000 / operations])

    def median(self, name: str) -> float:
        return statistics.median(self.ms[name])


# --- Committed writes ----------------------------------------------------------------

_WRITES = ("INSERT", "UPDATE", "DELETE", "WITH U")  # WITH U...: a CTE that updates


@contextmanager
def count_writes() -> Iterator[dict]:
    """Count the write transactions this thread commits through SQLAlchemy
    (which DBOS uses for its system database), in box["writes"].

    A transaction counts once, however many rows it writes; a write made in
    autocommit mode counts as one transaction of its own. Other threads
    (DBOS's background threads among them) are not counted.
    """
    me = threading.get_ident()
    box = {"writes": 0}

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        if threading.get_ident() != me:
            return
        if not statement.lstrip()[:6].upper().startswith(_WRITES):
            return
        if getattr(conn.connection.dbapi_connection, "autocommit", False) is True:
            box["writes"] += 1  # committed by the server as it runs
        else:
            conn.info["booktools_timing_wrote"] = True

    def on_commit(conn):
        if threading.get_ident() == me and conn.info.pop("booktools_timing_wrote", False):
            box["writes"] += 1

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", on_execute)
    sa.event.listen(sa.engine.Engine, "commit", on_commit)
    try:
        yield box
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", on_execute)
        sa.event.remove(sa.engine.Engine, "commit", on_commit)


def writes_for(fn: Callable, *args) -> int:
    """Committed write transactions while fn(*args) runs in this thread."""
    with count_writes() as box:
        fn(*args)
    return box["writes"]


# --- Writing the figures ---------------------------------------------------------------


def format_ms(ms: float) -> str:
    """'12.3 ms', '1.23 ms', '0.00012 ms': always digits, a point, digits
    (never 1e-05)."""
    if ms >= 10:
        return f"{ms:.1f} ms"
    places = max(2, 1 - math.floor(math.log10(ms))) if ms > 0 else 2
    return f"{ms:.{places}f} ms"


def format_ratio(ratio: float) -> str:
    """'3.1x', or for ratios under 0.1 a fraction: '1/10,000'."""
    if ratio < 0.1:
        return f"1/{1 / ratio:,.0f}"
    return f"{ratio:.1f}x"
