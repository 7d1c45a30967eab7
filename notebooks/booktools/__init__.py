"""Demo machinery for the notebooks of *Durable Python with DBOS*.

Everything here is plumbing around the lessons: a fresh working folder per
chapter, running and killing child processes, reading ledgers, checking
exercises, timing. None of it wraps DBOS, and importing it registers no DBOS
function: the DBOS code stays in the notebooks, where the learner can see it,
and in the packages beside booktools that the chapters show (cost_lab, which
chapter 11 measures; order_service, the capstone's application).
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
