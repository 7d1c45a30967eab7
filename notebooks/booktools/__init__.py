"""Demo machinery for the notebooks of *Durable Python with DBOS*.

Everything here is plumbing around the lessons: a fresh working folder per
chapter, running and killing child processes, reading ledgers, checking
exercises. None of it wraps DBOS: every DBOS call stays in the notebooks,
where the learner can see it (except bench.py, chapter 11's measurements,
which is also the `make bench` script and shows its DBOS code in the chapter).
"""

from .exercises import Feedback
from .ledger import read_ledger, show_ledger, step_counts
from .processes import ScriptRun, Worker, run_script
from .workspace import Workspace, fresh_workspace

__all__ = [
    "Feedback",
    "ScriptRun",
    "Worker",
    "Workspace",
    "fresh_workspace",
    "read_ledger",
    "run_script",
    "show_ledger",
    "step_counts",
]
