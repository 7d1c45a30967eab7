"""Feedback for exercise checkers.

A checker takes the learner's answer (a function, a dict, a workflow) and
returns a Feedback: correct, wrong (with a hint aimed at the likely mistake),
or not done yet (the starter code is still in place). Checkers never raise, so
a notebook with unfinished exercises still runs top to bottom.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Literal

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
