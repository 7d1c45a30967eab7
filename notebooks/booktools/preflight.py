"""Pre-flight check: does this Python, with the SQLite it links, run the book?

    python notebooks/booktools/preflight.py     (make runs it before creating .venv)

Every chapter's first cell runs it too, through `fresh_workspace`, so a learner on an unsupported
set-up reads one sentence on what to do instead of a DBOS traceback. The two limits, measured:

- Python 3.11 or later: the pinned packages need it (IPython 9, ipykernel 7 and matplotlib 3.11
  declare `Requires-Python >=3.11`, so `pip install -r requirements.txt` fails on 3.10).
- On Python 3.12 or later, SQLite 3.42 or later: there dbos 3.4 writes timestamps with
  `unixepoch('subsec')`, which older SQLite evaluates to NULL, so `DBOS.launch()` fails with
  "NOT NULL constraint failed: application_versions.version_timestamp". Python 3.11 takes a
  whole-second path that works with any SQLite.

Standard library only, and syntax old Pythons parse, so it can judge the Python it runs on.
"""

from __future__ import print_function

import sqlite3
import sys

MINIMUM_PYTHON = (3, 11)
# From this Python on, dbos 3.4 needs SQLite's unixepoch('subsec').
SUBSECOND_PYTHON = (3, 12)
SUBSECOND_SQLITE = (3, 42, 0)


def _dotted(version):
    return ".".join(str(part) for part in version)


def problem(python=None, sqlite=None):
    """One sentence on what to do if this combination cannot run the book, else None."""
    python = tuple(python or sys.version_info[:3])
    sqlite = tuple(sqlite or sqlite3.sqlite_version_info)
    if python < MINIMUM_PYTHON:
        return (
            "This book needs Python 3.11 or later (its pinned packages do), and this is Python "
            "{}: install Python 3.11 and use it (with make: make PYTHON=python3.11)."
        ).format(_dotted(python))
    if python >= SUBSECOND_PYTHON and sqlite < SUBSECOND_SQLITE:
        return (
            "Python {} here uses SQLite {}, and DBOS 3.4 on Python 3.12 or later needs SQLite "
            "3.42 or later (DBOS.launch() would fail with 'NOT NULL constraint failed: "
            "application_versions.version_timestamp'): use Python 3.11, which works with any "
            "SQLite (with make: make PYTHON=python3.11), or a Python {}.{} built against "
            "SQLite 3.42 or later."
        ).format(_dotted(python), _dotted(sqlite), python[0], python[1])
    return None


def describe():
    """Which Python and SQLite this is, e.g. 'Python 3.11.7 with SQLite 3.40.1'."""
    return "Python {} with SQLite {}".format(_dotted(sys.version_info[:3]), sqlite3.sqlite_version)


class UnsupportedEnvironment(RuntimeError):
    """This Python/SQLite combination cannot run the book; the message says what to do."""

    def _render_traceback_(self):
        # IPython shows this instead of a traceback: the sentence is all a learner needs.
        return ["UnsupportedEnvironment: " + str(self)]


def check():
    """Raise UnsupportedEnvironment (one sentence) unless this set-up runs the book."""
    sentence = problem()
    if sentence is not None:
        raise UnsupportedEnvironment(sentence)


if __name__ == "__main__":
    sentence = problem()
    if sentence is not None:
        print("{} ({}): unsupported.\n{}".format(describe(), sys.executable, sentence),
              file=sys.stderr)
        sys.exit(1)
    print("{} ({}): supported.".format(describe(), sys.executable))
