"""Ledgers: plain text files that each step appends one line to.

A ledger is the evidence for "exactly once": it survives the crash of the
process that writes it, so after a restart it shows every step that ever
finished, in order, across all runs.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path


def read_ledger(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.exists():
        return []
    return [line for line in path.read_text().splitlines() if line.strip()]


def step_counts(path: str | Path) -> Counter:
    """How many times each ledger line was written."""
    return Counter(read_ledger(path))


def show_ledger(path: str | Path, expected: list[str] | None = None) -> None:
    """Print the ledger, then (given `expected`) how often each entry ran,
    and whether every expected entry ran exactly once and nothing else did.
    """
    lines = read_ledger(path)
    print(f"ledger ({len(lines)} lines):")
    for number, line in enumerate(lines, 1):
        print(f"  {number:>2}  {line}")
    if expected is None:
        return
    counts = Counter(lines)
    print("times each step ran:")
    ok = True
    for entry in expected:
        n = counts.get(entry, 0)
        verdict = "exactly once" if n == 1 else ("never" if n == 0 else f"{n} times!")
        ok &= n == 1
        print(f"  {entry:<24} {verdict}")
    extra = [e for e in counts if e not in expected]
    for entry in extra:
        print(f"  {entry:<24} unexpected")
    ok &= not extra
    print("✅ every step ran exactly once" if ok else "❌ not exactly once")
