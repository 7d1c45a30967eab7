"""Chapter 11's measurements as a script, and the plots and table that show them.

From the repository's root: make bench. From notebooks/:
                   python -m booktools.bench            (about half a minute)
                   python -m booktools.bench --quick    (one round: a smoke test)
                   python -m booktools.bench --no-postgres

It runs cost_lab.measure.measure (the code chapter 11 shows) on SQLite and on
Postgres in the same run, which measures:
- the floor: one committed write (an INSERT and a COMMIT) straight through the
  database driver, with the settings DBOS itself uses (cost_lab/floor.py);
- a plain Python call, a DBOS step inside a workflow, a one-step workflow
  called directly and through a queue, and workflows of 1, 10 and 100 steps;
and prints each DBOS figure beside the floor, with the ratio DBOS / floor, and
how much of a step's time was CPU time (DBOS's own Python work) rather than
waiting for the database.

Postgres: the server DBOS_SYSTEM_DATABASE_URL points at (in a database of the
benchmark's own), or else a throwaway server started from this machine's
PostgreSQL binaries and removed afterwards; without either, SQLite only.

This file is machinery around the lesson (finding a server, the table, the plots,
the command line): it makes no DBOS call, and importing it registers nothing.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from .postgres import ThrowawayPostgres, database_for
from .postgres import binaries as postgres_binaries
from .timing import format_ms, format_ratio

if TYPE_CHECKING:
    from cost_lab.measure import Costs

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

    def __init__(self, url: str, origin: str,
                 server: Optional[ThrowawayPostgres] = None):
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


def step_counts(results: list[Costs]) -> list[int]:
    """The steps per workflow that were measured (1, 10 and 100 in cost_lab)."""
    return sorted(results[0].steps_ms)


def rows(results: list[Costs]) -> list[tuple[str, Callable[[Costs], float]]]:
    """The table's rows: a label, and how to read its figure from a Costs."""
    return [
        ("floor: one committed write", lambda c: c.floor_ms),
        ("plain Python call", lambda c: c.plain_ms),
        ("step, inside a workflow", lambda c: c.step_ms),
        ("  of which CPU time", lambda c: c.step_cpu_ms),
        ("one-step workflow", lambda c: c.workflow_ms),
        ("  of which CPU time", lambda c: c.workflow_cpu_ms),
        ("one-step workflow, queued", lambda c: c.queued_ms),
        *[(f"workflow with {s} steps", lambda c, s=s: c.steps_ms[s])
          for s in step_counts(results) if s > 1],
    ]


def table(results: list[Costs]) -> str:
    """The measurements as an aligned text table: ms per operation and x floor."""
    head = f"{'':<29}" + "".join(f"{c.backend:>22}" for c in results)
    lines = [head, f"{'':<29}" + "".join(f"{'ms':>12}{'/ floor':>10}" for _ in results)]
    for label, get in rows(results):
        cells = ""
        for c in results:
            value = get(c)
            plain = label.startswith(("floor", " "))  # the floor, and CPU times
            ratio = "" if plain else format_ratio(c.ratio(value))
            cells += f"{format_ms(value)[:-3]:>12}{ratio:>10}"
        lines.append(f"{label:<29}{cells}")
    lines.append("")
    for label, get in [("workflows per second, direct", lambda c: c.workflow_ms),
                       ("workflows per second, queued", lambda c: c.queued_ms)]:
        lines.append(f"{label:<29}" + "".join(
            f"{c.per_second(get(c)):>12,.0f}{'':>10}" for c in results))
    steps = "/".join(str(s) for s in results[0].writes)
    lines.append(f"{f'writes for {steps} steps':<29}" + "".join(
        f"{'/'.join(str(w) for w in c.writes.values()):>22}" for c in results))
    return "\n".join(lines)


def _annotate(ax, bars, ratios):
    for bar, ratio in zip(bars, ratios):
        if ratio is not None:
            ax.annotate(format_ratio(ratio),
                        (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8, xytext=(0, 2),
                        textcoords="offset points")


def plot_costs(results: list[Costs]):
    """Cost of one operation per backend (log scale), the floor as a dashed line,
    each DBOS figure's ratio to the floor above its bar, and (hatched) the part of
    it that was CPU time of the calling thread."""
    import matplotlib.pyplot as plt

    labels = ["plain call", "step\n(in a workflow)", "one-step\nworkflow",
              "queued\nworkflow"]
    colours = ["tab:gray", "tab:blue", "tab:orange", "tab:purple"]
    fig, axes = plt.subplots(1, len(results), figsize=(3.6 * len(results), 3.6),
                             sharey=True, squeeze=False)
    for ax, c in zip(axes[0], results):
        values = [c.plain_ms, c.step_ms, c.workflow_ms, c.queued_ms]
        bars = ax.bar(labels, values, color=colours)
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
    colours = ("tab:red", "tab:orange", "tab:purple")
    for k, c in enumerate(results):
        xs = [k - width, k, k + width]
        values = [c.per_second(c.floor_ms), c.per_second(c.workflow_ms),
                  c.per_second(c.queued_ms)]
        bars = ax.bar(xs, values, width, color=list(colours))
        labels = [f"{values[0]:,.0f}"] + [
            f"{value:,.0f}\n({format_ratio(c.ratio(ms))})"
            for value, ms in zip(values[1:], (c.workflow_ms, c.queued_ms))]
        for bar, label, value in zip(bars, labels, values):
            ax.annotate(label, (bar.get_x() + width / 2, value), ha="center",
                        va="bottom", fontsize=8, xytext=(0, 2),
                        textcoords="offset points")
    ax.set_xticks(range(len(results)), [c.backend for c in results])
    ax.set_yscale("log")
    ax.set_ylim(top=max(c.per_second(c.floor_ms) for c in results) * 4)
    ax.set_ylabel("per second (log scale)", fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour) for colour in colours]
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
    counts = step_counts(results)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(counts, [str(s) for s in counts])
    ax.set_xlim(counts[0] * 0.6, counts[-1] * 2)  # room for the labels
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
    return (f"Bar chart, one panel per backend ({backends}), log scale: the time of a "
            "plain call, a step in a workflow, a one-step workflow and a queued "
            "workflow, each against a dashed red line at the floor (one committed "
            "write) with its ratio to the floor above the bar; hatching marks the part "
            "of a step and a workflow that was CPU time. A plain call is far below the "
            "floor; every DBOS operation is a multiple of it.")


def describe_throughput(results: list[Costs]) -> str:
    """plot_throughput in words."""
    backends = " and ".join(c.backend for c in results)
    return (f"Bar chart, log scale, three bars per backend ({backends}): committed "
            "writes per second (the floor), one-step workflows per second called "
            "directly, and queued; the labels give each rate and the time per workflow "
            "as a multiple of the floor. Workflows called directly run at a fraction of "
            "the floor's rate.")


def describe_steps(results: list[Costs]) -> str:
    """plot_steps in words."""
    backends = " and ".join(c.backend for c in results)
    steps = ", ".join(str(s) for s in step_counts(results))
    return (f"Line chart, log-log: milliseconds per workflow against steps per workflow "
            f"({steps}), one solid line per backend ({backends}) beside a dashed line at "
            "the floor times the workflow's committed writes. The cost grows in step "
            "with the number of steps, close to a straight line: a fixed price per step.")


# --- The script ----------------------------------------------------------------------


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m booktools.bench", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="one short round: a smoke test")
    parser.add_argument("--no-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument("--folder", default=None, help="where the SQLite files go "
                        "(default: scratch/bench next to booktools)")
    args = parser.parse_args(argv)
    rounds, scale = (1, 0.3) if args.quick else (3, 1.0)

    # The lesson's code, imported here only: importing this module registers nothing.
    from cost_lab.floor import PostgresFloor, SQLiteFloor
    from cost_lab.measure import measure

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
            results.append(measure("Postgres", postgres.url, folder,
                                   rounds=rounds, scale=scale))
            pg_floor = PostgresFloor(postgres.url)
            floors.append(f"Postgres ({postgres.origin}) {pg_floor.settings()}")
            pg_floor.close()
    finally:
        if postgres is not None:
            postgres.close()
    if postgres is None and not args.no_postgres:
        print("Postgres: none found "
              "(set DBOS_SYSTEM_DATABASE_URL, or install PostgreSQL)")
    print("floors:", "; ".join(floors))
    print(f"medians of {rounds} round(s); ms per operation and ratio to the floor\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
