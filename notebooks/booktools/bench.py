"""What durability costs: the measurements of chapter 11, as a library and as a script.

From the repository's root: make bench. From notebooks/:
                   python -m booktools.bench            (about half a minute)
                   python -m booktools.bench --quick    (one round: a smoke test)
                   python -m booktools.bench --no-postgres

It measures, on SQLite and on Postgres in the same run:
- the floor: one committed write (an INSERT and a COMMIT) straight through the
  database driver, with the settings DBOS itself uses;
- a plain Python call, a DBOS step inside a workflow, a one-step workflow
  called directly and through a queue, and workflows of 1, 10 and 100 steps;
and prints each DBOS figure beside the floor, with the ratio DBOS / floor, and
how much of a step's time was CPU time (DBOS's own Python work) rather than
waiting for the database.

Postgres: the server DBOS_SYSTEM_DATABASE_URL points at (in a database of the
benchmark's own), or else a throwaway server started from this machine's
PostgreSQL binaries and removed afterwards; without either, SQLite only.

Chapter 11 imports the same functions: the workflows measured, `measure`,
`count_writes`, the floors, and the plots. Every DBOS call is in this file,
in plain sight; nothing here is needed to use DBOS.
"""

from __future__ import annotations

import argparse
import math
import os
import sqlite3
import statistics
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

import sqlalchemy as sa
from dbos import DBOS, DBOSConfig

from .postgres import ThrowawayPostgres, database_for
from .postgres import binaries as postgres_binaries

STEP_COUNTS = (1, 10, 100)  # steps per workflow, for the growth curve
QUEUE_NAME = "bench"

# --- What is measured -------------------------------------------------------


def plain_add(x: int) -> int:
    return x + 1


@DBOS.step()
def add_step(x: int) -> int:
    return x + 1


@DBOS.workflow()
def one_step_workflow(x: int) -> int:
    return add_step(x)


@DBOS.workflow()
def steps_workflow(steps: int) -> int:
    total = 0
    for _ in range(steps):
        total = add_step(total)
    return total


# --- Timing -------------------------------------------------------------------


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


def format_ms(ms: float) -> str:
    """'12.3 ms', '1.23 ms', '0.00012 ms': always digits, a point, digits (never 1e-05)."""
    if ms >= 10:
        return f"{ms:.1f} ms"
    places = max(2, 1 - math.floor(math.log10(ms))) if ms > 0 else 2
    return f"{ms:.{places}f} ms"


def format_ratio(ratio: float) -> str:
    if ratio < 0.1:
        return f"1/{1 / ratio:,.0f}"
    return f"{ratio:.1f}x"


# --- Committed writes ----------------------------------------------------------

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
        if threading.get_ident() != me or not statement.lstrip()[:6].upper().startswith(_WRITES):
            return
        if getattr(conn.connection.dbapi_connection, "autocommit", False) is True:
            box["writes"] += 1  # committed by the server as it runs
        else:
            conn.info["booktools_bench_wrote"] = True

    def on_commit(conn):
        if threading.get_ident() == me and conn.info.pop("booktools_bench_wrote", False):
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


# --- The floor: one committed write -----------------------------------------------


class SQLiteFloor:
    """INSERT + COMMIT on a SQLite file, with DBOS's own connection settings.

    dbos/_sys_db_sqlite.py opens every connection with isolation_level
    "IMMEDIATE" (each transaction takes the write lock at its start),
    PRAGMA busy_timeout=30000 and PRAGMA foreign_keys=ON, and leaves journal
    mode and synchronous at SQLite's defaults: a rollback journal ("delete")
    and synchronous=FULL, so every commit waits for the disk.
    """

    backend = "SQLite"

    def __init__(self, path: str | Path):
        self.conn = sqlite3.connect(path, isolation_level="IMMEDIATE", check_same_thread=False)
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS floor (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)"
        )
        self.conn.commit()

    def settings(self) -> dict:
        return {
            "journal_mode": self.conn.execute("PRAGMA journal_mode").fetchone()[0],
            "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[
                self.conn.execute("PRAGMA synchronous").fetchone()[0]
            ],
            "busy_timeout": self.conn.execute("PRAGMA busy_timeout").fetchone()[0],
        }

    def write(self, i: int = 0) -> None:
        self.conn.execute("INSERT INTO floor (payload) VALUES (?)", (f"row {i}",))
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


class PostgresFloor:
    """INSERT + COMMIT on Postgres, through psycopg (the driver DBOS uses), with
    the server's defaults (fsync on, synchronous_commit on)."""

    backend = "Postgres"

    def __init__(self, url: str):
        import psycopg

        conninfo = sa.make_url(url).set(drivername="postgresql")
        self.conn = psycopg.connect(conninfo.render_as_string(hide_password=False))
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_floor"
            " (id BIGSERIAL PRIMARY KEY, payload TEXT NOT NULL)"
        )
        self.conn.commit()

    def settings(self) -> dict:
        show = lambda name: self.conn.execute(f"SHOW {name}").fetchone()[0]  # noqa: E731
        values = {name: show(name) for name in ("fsync", "synchronous_commit")}
        self.conn.commit()
        return values

    def write(self, i: int = 0) -> None:
        self.conn.execute("INSERT INTO bench_floor (payload) VALUES (%s)", (f"row {i}",))
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


def open_floor(url: str, folder: str | Path):
    """The floor for the backend of `url`: for SQLite a file next to DBOS's."""
    if url.startswith("sqlite"):
        return SQLiteFloor(Path(folder) / "floor.sqlite")
    return PostgresFloor(url)


# --- One backend, measured -----------------------------------------------------


@dataclass
class Costs:
    """Milliseconds per operation on one backend (medians over rounds)."""

    backend: str
    floor_ms: float  # one committed write, straight through the driver
    plain_ms: float  # a plain Python call
    step_ms: float  # one more step in a workflow: (100 steps - 1 step) / 99
    workflow_ms: float  # a one-step workflow, called directly, one after another
    queued_ms: float  # a one-step workflow through a queue: total time / workflows
    steps_ms: dict = field(default_factory=dict)  # steps -> ms per workflow
    # CPU time of the calling thread (DBOS's own Python work; the rest is waiting):
    floor_cpu_ms: float = 0.0
    step_cpu_ms: float = 0.0
    workflow_cpu_ms: float = 0.0
    writes: dict = field(default_factory=dict)  # steps -> committed writes per workflow

    def ratio(self, ms: float) -> float:
        return ms / self.floor_ms

    def per_second(self, ms: float) -> float:
        return 1000 / ms


def _config(url: str) -> DBOSConfig:
    return {
        "name": "dbos-bench",
        "system_database_url": url,
        "application_version": "bench-1",
        "log_level": "WARNING",
        "notification_listener_polling_interval_sec": 0.05,
    }


def measure(backend: str, url: str, folder: str | Path, *, rounds: int = 3,
            scale: float = 1.0) -> Costs:
    """Launch DBOS on `url`, measure everything, destroy DBOS; uses the sync API,
    so call it from a script or a thread (in a notebook: asyncio.to_thread).

    The sequential measurements run in `rounds` interleaved rounds (floor,
    workflows, plain call), so that a burst of load on the machine hits all of
    them alike; each figure is the median of its calls over all rounds (the
    queue's: the median of the rounds). `scale` multiplies the calls per round.
    """
    n = lambda calls: max(1, round(calls * scale))  # noqa: E731
    DBOS.destroy()
    DBOS(config=_config(url))
    DBOS.launch()
    floor = open_floor(url, folder)
    try:
        for i in range(5):  # warm up: connection pools, caches, first-call costs
            floor.write(i)
            one_step_workflow(i)
        writes = {steps: writes_for(steps_workflow, steps) for steps in (0, *STEP_COUNTS)}

        # Each sample is one call (a batch of 1,000 for the plain call, too fast to time
        # alone); each figure is the median of its samples, so that a burst of load that
        # slows a few calls does not move it.
        samples: dict[str, list[float]] = {}
        for _ in range(rounds):
            for name, fn, calls in [
                ("floor", floor.write, n(60)),
                ("workflow", one_step_workflow, n(20)),
                *[(f"steps-{s}", lambda i, s=s: steps_workflow(s), n(40 / (s + 2)))
                  for s in STEP_COUNTS if s > 1],
            ]:
                wall, cpu = ms_each(fn, calls)
                samples.setdefault(name, []).extend(wall)
                samples.setdefault(f"{name}-cpu", []).extend(cpu)
            samples.setdefault("plain", []).extend(
                ms_per_call(plain_add, 1000) for _ in range(n(20)))

        # Through a queue: enqueue a batch, wait for all of it. The queue exists only
        # now, so that its polling does not weigh on the measurements above.
        queue = DBOS.register_queue(QUEUE_NAME, worker_concurrency=10, polling_interval_sec=0.01)
        queue.enqueue(one_step_workflow, -1).get_result(polling_interval_sec=0.01)  # warm up:
        batch = n(30)  # a process notices a new queue within about a second
        for _ in range(rounds):
            start = time.perf_counter()
            handles = [queue.enqueue(one_step_workflow, i) for i in range(batch)]
            for handle in handles:
                handle.get_result(polling_interval_sec=0.01)
            samples.setdefault("queued", []).append((time.perf_counter() - start) * 1000 / batch)
        DBOS.delete_queue(QUEUE_NAME)
    finally:
        floor.close()
        DBOS.destroy()

    median = {name: statistics.median(values) for name, values in samples.items()}
    steps_ms = {1: median["workflow"], **{s: median[f"steps-{s}"] for s in STEP_COUNTS if s > 1}}
    last = STEP_COUNTS[-1]
    return Costs(
        backend=backend,
        floor_ms=median["floor"],
        plain_ms=median["plain"],
        step_ms=(steps_ms[last] - steps_ms[1]) / (last - 1),
        workflow_ms=median["workflow"],
        queued_ms=median["queued"],
        steps_ms=steps_ms,
        writes=writes,
        floor_cpu_ms=median["floor-cpu"],
        step_cpu_ms=(median[f"steps-{last}-cpu"] - median["workflow-cpu"]) / (last - 1),
        workflow_cpu_ms=median["workflow-cpu"],
    )


# --- Where the Postgres measurements run ----------------------------------------------


class Postgres:
    """The Postgres server for the measurements, and a database of their own on it.

    `Postgres.find(database)` returns one, or None:
    - origin "DBOS_SYSTEM_DATABASE_URL": the server that variable names (emptied
      database `database` on it);
    - origin "throwaway": a server started here from the machine's PostgreSQL
      binaries by booktools.postgres (the launcher `make test-postgres` uses too;
      default settings: fsync on), removed by close() or when this process ends,
      however it ends.
    """

    def __init__(self, url: str, origin: str, server: Optional[ThrowawayPostgres] = None):
        self.url, self.origin, self._server = url, origin, server

    @classmethod
    def find(cls, database: str = "dbos_book_bench", *,
             timeout: float = 60) -> Optional["Postgres"]:
        server = os.environ.get("DBOS_SYSTEM_DATABASE_URL", "")
        if server.startswith("postgres"):
            return cls(database_for(server, database), "DBOS_SYSTEM_DATABASE_URL")
        if postgres_binaries() is None:
            return None
        try:
            throwaway = ThrowawayPostgres(timeout=timeout)
        except RuntimeError:
            return None
        return cls(database_for(throwaway.url, database), "throwaway", throwaway)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self._server = None

    def __enter__(self) -> "Postgres":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- Presenting the results ----------------------------------------------------------

ROWS = [
    ("floor: one committed write", lambda c: c.floor_ms),
    ("plain Python call", lambda c: c.plain_ms),
    ("step, inside a workflow", lambda c: c.step_ms),
    ("  of which CPU time", lambda c: c.step_cpu_ms),
    ("one-step workflow", lambda c: c.workflow_ms),
    ("  of which CPU time", lambda c: c.workflow_cpu_ms),
    ("one-step workflow, queued", lambda c: c.queued_ms),
    *[(f"workflow with {s} steps", lambda c, s=s: c.steps_ms[s]) for s in STEP_COUNTS if s > 1],
]


def table(results: list[Costs]) -> str:
    """The measurements as an aligned text table: ms per operation and x floor."""
    head = f"{'':<29}" + "".join(f"{c.backend:>22}" for c in results)
    lines = [head, f"{'':<29}" + "".join(f"{'ms':>12}{'/ floor':>10}" for _ in results)]
    for label, get in ROWS:
        cells = ""
        for c in results:
            value = get(c)
            ratio = "" if label.startswith(("floor", " ")) else format_ratio(c.ratio(value))
            cells += f"{format_ms(value)[:-3]:>12}{ratio:>10}"
        lines.append(f"{label:<29}{cells}")
    lines.append("")
    for label, get in [("workflows per second, direct", lambda c: c.workflow_ms),
                       ("workflows per second, queued", lambda c: c.queued_ms)]:
        lines.append(f"{label:<29}" + "".join(f"{c.per_second(get(c)):>12,.0f}{'':>10}"
                                              for c in results))
    steps = "/".join(str(s) for s in results[0].writes)
    lines.append(f"{f'writes for {steps} steps':<29}" + "".join(
        f"{'/'.join(str(w) for w in c.writes.values()):>22}" for c in results))
    return "\n".join(lines)


def _annotate(ax, bars, ratios):
    for bar, ratio in zip(bars, ratios):
        if ratio is not None:
            ax.annotate(format_ratio(ratio), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8, xytext=(0, 2),
                        textcoords="offset points")


def plot_costs(results: list[Costs]):
    """Cost of one operation per backend (log scale), the floor as a dashed line,
    each DBOS figure's ratio to the floor above its bar, and (hatched) the part of
    it that was CPU time of the calling thread."""
    import matplotlib.pyplot as plt

    labels = ["plain call", "step\n(in a workflow)", "one-step\nworkflow", "queued\nworkflow"]
    fig, axes = plt.subplots(1, len(results), figsize=(3.6 * len(results), 3.6),
                             sharey=True, squeeze=False)
    for ax, c in zip(axes[0], results):
        values = [c.plain_ms, c.step_ms, c.workflow_ms, c.queued_ms]
        bars = ax.bar(labels, values, color=["tab:gray", "tab:blue", "tab:orange", "tab:purple"])
        ax.bar(labels[1:3], [c.step_cpu_ms, c.workflow_cpu_ms], width=0.5, color="none",
               edgecolor="black", hatch="///", linewidth=0.6,
               label="of which CPU time")
        ax.axhline(c.floor_ms, color="tab:red", linestyle="--", linewidth=1)
        ax.text(-0.45, c.floor_ms * 1.15, f"floor {format_ms(c.floor_ms)}",
                color="tab:red", fontsize=8)
        _annotate(ax, bars, [c.ratio(v) for v in values])
        ax.set_yscale("log")
        ax.set_ylim(top=max(max(r.queued_ms, r.workflow_ms) for r in results) * 6)
        ax.set_title(c.backend, fontsize=10)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("ms per operation (log scale)", fontsize=8)
    axes[0][0].legend(fontsize=8, loc="upper left")
    fig.suptitle("What one operation costs (labels: x floor, one committed write)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def plot_throughput(results: list[Costs]):
    """One-step workflows per second, direct and queued, against the floor's
    writes per second."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    width = 0.25
    for k, c in enumerate(results):
        xs = [k - width, k, k + width]
        values = [c.per_second(c.floor_ms), c.per_second(c.workflow_ms),
                  c.per_second(c.queued_ms)]
        bars = ax.bar(xs, values, width, color=["tab:red", "tab:orange", "tab:purple"])
        labels = [f"{values[0]:,.0f}"] + [
            f"{value:,.0f}\n({format_ratio(c.ratio(ms))})"
            for value, ms in zip(values[1:], (c.workflow_ms, c.queued_ms))]
        for bar, label, value in zip(bars, labels, values):
            ax.annotate(label, (bar.get_x() + width / 2, value), ha="center",
                        va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(results)), [c.backend for c in results])
    ax.set_yscale("log")
    ax.set_ylim(top=max(c.per_second(c.floor_ms) for c in results) * 4)
    ax.set_ylabel("per second (log scale)", fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=col)
               for col in ("tab:red", "tab:orange", "tab:purple")]
    ax.legend(handles, ["floor: committed writes/s", "one-step workflows/s, direct",
                        "one-step workflows/s, queued"], fontsize=8,
              loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    ax.set_title("Throughput, one process (in brackets: time per workflow, x floor)",
                 fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_steps(results: list[Costs]):
    """ms per workflow against steps per workflow (log-log), with the floor
    times the workflow's committed writes as a dashed line."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    colours = {"SQLite": "tab:blue", "Postgres": "tab:green"}
    offsets = {"SQLite": (5, -13), "Postgres": (-34, 5)}  # labels apart when lines meet
    for c in results:
        colour = colours.get(c.backend, "tab:gray")
        steps = sorted(c.steps_ms)
        values = [c.steps_ms[s] for s in steps]
        ax.plot(steps, values, "o-", color=colour, label=f"{c.backend}: DBOS")
        ax.plot(steps, [c.writes[s] * c.floor_ms for s in steps], "--", color=colour,
                alpha=0.6, label=f"{c.backend}: floor x committed writes")
        for s, value in zip(steps, values):
            ax.annotate(format_ratio(value / (c.writes[s] * c.floor_ms)), (s, value),
                        fontsize=8, xytext=offsets.get(c.backend, (5, -13)),
                        textcoords="offset points", color=colour)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(list(STEP_COUNTS), [str(s) for s in STEP_COUNTS])
    ax.set_xlim(STEP_COUNTS[0] * 0.6, STEP_COUNTS[-1] * 2)  # room for the labels
    ax.set_ylim(top=max(max(c.steps_ms.values()) for c in results) * 2.5)
    ax.set_xlabel("steps per workflow", fontsize=8)
    ax.set_ylabel("ms per workflow (log scale)", fontsize=8)
    ax.set_title("Cost grows with steps (labels: DBOS / (floor x writes))", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def describe_costs(results: list[Costs]) -> str:
    """plot_costs in words (for its alt text and the caption line under it)."""
    backends = " and ".join(c.backend for c in results)
    return (f"Bar chart, one panel per backend ({backends}), log scale: the time of a plain "
            "call, a step in a workflow, a one-step workflow and a queued workflow, each "
            "against a dashed red line at the floor (one committed write) with its ratio to "
            "the floor above the bar; hatching marks the part of a step and a workflow that "
            "was CPU time. A plain call is far below the floor; every DBOS operation is a "
            "multiple of it.")


def describe_throughput(results: list[Costs]) -> str:
    """plot_throughput in words."""
    backends = " and ".join(c.backend for c in results)
    return (f"Bar chart, log scale, three bars per backend ({backends}): committed writes "
            "per second (the floor), one-step workflows per second called directly, and "
            "queued; the labels give each rate and the time per workflow as a multiple of the "
            "floor. Workflows called directly run at a fraction of the floor's rate.")


def describe_steps(results: list[Costs]) -> str:
    """plot_steps in words."""
    backends = " and ".join(c.backend for c in results)
    steps = ", ".join(str(s) for s in STEP_COUNTS)
    return (f"Line chart, log-log: milliseconds per workflow against steps per workflow "
            f"({steps}), one solid line per backend ({backends}) beside a dashed line at the "
            "floor times the workflow's committed writes. The cost grows in step with the "
            "number of steps, close to a straight line: a fixed price per step.")


# --- The script ----------------------------------------------------------------------


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m booktools.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one short round: a smoke test")
    parser.add_argument("--no-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument("--folder", default=None,
                        help="where the SQLite files go (default: scratch/bench next to booktools)")
    args = parser.parse_args(argv)
    rounds, scale = (1, 0.3) if args.quick else (3, 1.0)

    scratch = Path(__file__).resolve().parent.parent / "scratch"
    folder = Path(args.folder) if args.folder else scratch / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.sqlite*"):
        old.unlink()

    print(f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    postgres = None if args.no_postgres else Postgres.find()
    try:
        results = [measure("SQLite", f"sqlite:///{folder / 'dbos_bench.sqlite'}", folder,
                           rounds=rounds, scale=scale)]
        floors = [f"SQLite {SQLiteFloor(folder / 'floor.sqlite').settings()}"]
        if postgres is not None:
            results.append(measure("Postgres", postgres.url, folder, rounds=rounds, scale=scale))
            pg_floor = PostgresFloor(postgres.url)
            floors.append(f"Postgres ({postgres.origin}) {pg_floor.settings()}")
            pg_floor.close()
    finally:
        if postgres is not None:
            postgres.close()
    if postgres is None and not args.no_postgres:
        print("Postgres: none found (set DBOS_SYSTEM_DATABASE_URL, or install PostgreSQL)")
    print("floors:", "; ".join(floors))
    print(f"medians of {rounds} round(s); ms per operation and ratio to the floor\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
