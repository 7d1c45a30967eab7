"""Feedback for exercise checkers.

A checker takes the learner's answer (a function, a dict, a workflow) and
returns a Feedback: correct, wrong (with a hint aimed at the likely mistake),
or not done yet (the starter code is still in place). Checkers never raise, so
a notebook with unfinished exercises still runs top to bottom.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Literal

Status = Literal["correct", "wrong", "todo"]
_ICONS = {"correct": "✅ Correct", "wrong": "❌ Not yet", "todo": "✏️ Not done yet"}


@dataclass(frozen=True)
class Feedback:
    status: Status
    message: str

    @property
    def ok(self) -> bool:
        return self.status == "correct"

    def __str__(self) -> str:
        return f"{_ICONS[self.status]}: {self.message}"

    def __repr__(self) -> str:
        return str(self)


def correct(message: str) -> Feedback:
    return Feedback("correct", message)


def wrong(message: str) -> Feedback:
    return Feedback("wrong", message)


def todo(message: str = "replace the `...` in the exercise cell with your code, then run it again.") -> Feedback:
    return Feedback("todo", message)


def checker(fn: Callable[..., Feedback]) -> Callable[..., Feedback]:
    """Turn a checker's exceptions into feedback instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs) -> Feedback:
        try:
            return fn(*args, **kwargs)
        except NotImplementedError:
            return todo()
        except Exception as exc:  # the learner's code failed: say how
            return wrong(f"your code raised {type(exc).__name__}: {exc}")

    return wrapper


def off_the_event_loop(fn: Callable[..., Any], *args: Any, timeout: float = 60) -> Any:
    """Run fn(*args) on a thread of its own and return what it returns (or raise what it raised).

    In a notebook cell the main thread runs an event loop, where DBOS refuses its blocking calls;
    a checker runs the learner's code on a fresh thread, as a script would run it.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn(*args)
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"checking took longer than {timeout:.0f} seconds: is the code stuck?")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@contextmanager
def environment_variable(name: str, value: str | None):
    """Set (or, with None, unset) an environment variable for the block, then restore it."""
    saved = os.environ.get(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


@dataclass
class WorkflowRun:
    """What one run of the learner's workflow did."""

    workflow_id: str
    result: Any = None
    error: BaseException | None = None
    finished: bool = True

    def step_names(self) -> list[str]:
        from dbos import DBOS

        return [step["function_name"] for step in DBOS.list_workflow_steps(self.workflow_id)]


def finish_or_cancel(workflow_id: str, handle, wait_limit: float) -> WorkflowRun:
    """Wait up to wait_limit seconds for a started workflow; cancel it if it is still running
    (a learner's workflow that waits forever must not hang the check)."""
    from dbos import DBOS

    deadline = time.monotonic() + wait_limit
    while time.monotonic() < deadline:
        status = DBOS.get_workflow_status(workflow_id)
        if status is not None and status.status not in ("PENDING", "ENQUEUED"):
            break
        time.sleep(0.05)
    else:
        DBOS.cancel_workflow(workflow_id)
        return WorkflowRun(workflow_id, finished=False)
    try:
        return WorkflowRun(workflow_id, result=handle.get_result(polling_interval_sec=0.05))
    except Exception as exc:
        return WorkflowRun(workflow_id, error=exc)
