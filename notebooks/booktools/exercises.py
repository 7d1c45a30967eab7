"""Feedback for exercise checkers, and the kit every checker is built from.

A checker takes the learner's answer (a function, a dict, a workflow) and returns a Feedback:
correct, wrong (with a hint aimed at the likely mistake), not done yet (the starter is still in
place), or "cannot check yet" (DBOS is not running in this kernel). Checkers never raise and
never hang, so a notebook with unfinished exercises still runs top to bottom.

The kit, all a checker needs:

- `correct(...)`, `wrong(...)`, `todo()`, `cannot_check(...)`: the four verdicts; the last says
  what in the notebook's state keeps the check from judging (never the learner's answer).
- `@checker` / `@checker(needs_dbos=True)`, on a `def` check or on an `async def` one, which the
  cell awaits (for answers that must run on the notebook's event loop: async workflows, which
  DBOS runs there when it was launched from a cell): an unchanged starter as the first argument
  gets "Not done yet" at once; with needs_dbos, a DBOS that is not launched gets one line on what to
  do instead of blame; an exception becomes feedback; DBOS's log records during the check (the
  ~40-line traceback of a learner's workflow that raised, from its own thread) are kept out of
  the cell and counted in one line of a "Not yet" verdict.
- `off_the_event_loop(fn, *args, timeout=...)`: runs learner code, `def` or `async def`, on a
  thread of its own with no event loop (as a script runs it), and raises `StillRunning`, which
  `@checker` turns into a clear verdict, once `timeout` seconds pass.
- `is_unchanged_starter(answer)`: `...`, a dict or list holding `...`, or a function whose body
  does nothing.
- `wrong_shape(value, expected=..., call=...)` and `wrong_kind_of_function(fn, ...)`: name a
  handle where a result is expected, a coroutine where a value is, `def` versus `async def`,
  before a checker judges side effects.
- `coroutines_never_awaited()`: names the `_async` calls a function made without `await`.
- `wait_for_workflow(workflow_id, timeout)`: polls until the workflow ends, cancels it at the
  limit; `wait_until(condition, timeout)` for any other condition.
- `wait_for_dbos_log()`: for a check that made a workflow fail on purpose, waits for DBOS's
  traceback of it, which comes just after the workflow's status, so it is counted, not shown.
- `dbos_is_running()`, `environment_variable(name, value)`.

DBOS is imported from its public modules only (`from dbos import DBOS, error`).
"""

from __future__ import annotations

import asyncio
import dis
import functools
import gc
import inspect
import logging
import os
import re
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Literal

Status = Literal["correct", "wrong", "todo", "setup"]
_ICONS = {
    "correct": "✅ Correct",
    "wrong": "❌ Not yet",
    "todo": "✏️ Not done yet",
    "setup": "⚠️ Cannot check yet",
}

DEFAULT_TIMEOUT = 60  # seconds a checker waits for learner code before saying it is stuck
NOT_RUNNING = (
    "DBOS is not running in this kernel: run the chapter's set-up cells (or Run All) first."
)


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


def todo(message: str = "replace the `...` with your code, then run this check again.") -> Feedback:
    return Feedback("todo", message)


def cannot_check(message: str) -> Feedback:
    """The notebook's own state keeps the check from judging the answer (not the learner's fault)."""
    return Feedback("setup", message)


def dbos_not_running() -> Feedback:
    return cannot_check(NOT_RUNNING)


# --- running learner code ------------------------------------------------------------------


class StillRunning(TimeoutError):
    """Learner code did not return within the checker's time limit."""


def off_the_event_loop(fn: Callable[..., Any], *args: Any, timeout: float = DEFAULT_TIMEOUT,
                       **kwargs: Any) -> Any:
    """Run fn(*args, **kwargs) on a daemon thread of its own; return its value or raise its error.

    A notebook cell's thread runs an event loop, where DBOS refuses its blocking calls: learner
    code runs here as a script would run it. An `async def` is awaited in a fresh event loop on
    that thread; a plain `def` that returns a coroutine gets the coroutine back, so the checker
    can name the missing `await`. After `timeout` seconds, raises StillRunning (the thread is
    left to finish on its own: Python cannot stop a thread, and a daemon one never blocks exit).
    """
    outcome: dict[str, Any] = {}
    is_async = inspect.iscoroutinefunction(inspect.unwrap(fn)) or inspect.iscoroutinefunction(fn)

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(fn(*args, **kwargs)) if is_async else fn(*args, **kwargs)
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True, name="booktools-check")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise StillRunning(
            f"your code was still running after {timeout:g} s, so the check stopped waiting. "
            "Is it waiting for something that never comes?"
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _event_loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _off_the_loop_if_needed(fn: Callable[[], Any], timeout: float) -> Any:
    """Call fn here, or on a thread of its own if this thread runs an event loop."""
    if _event_loop_running():
        return off_the_event_loop(fn, timeout=timeout)
    return fn()


# --- recognising an unchanged starter -------------------------------------------------------

# What a function whose body is only `...` or `pass` (a generator's with a bare `yield`, a
# docstring allowed) compiles to: nothing but these instructions, loading no value but None.
_DO_NOTHING = {
    "RESUME", "NOP", "CACHE", "LOAD_CONST", "RETURN_VALUE", "RETURN_CONST", "POP_TOP",
    "RETURN_GENERATOR", "YIELD_VALUE", "CALL_INTRINSIC_1", "RERAISE", "PUSH_EXC_INFO",
    "POP_EXCEPT", "COPY", "CLEANUP_THROW", "GEN_START",
}


def is_unchanged_starter(answer: Any) -> bool:
    """`...`, a dict, list or tuple holding `...`, or a function whose body does nothing."""
    if answer is ...:
        return True
    if isinstance(answer, dict):
        return any(is_unchanged_starter(k) or is_unchanged_starter(v) for k, v in answer.items())
    if isinstance(answer, (list, tuple)):
        return any(item is ... for item in answer)
    if not callable(answer):
        return False
    code = getattr(inspect.unwrap(answer), "__code__", None)
    if code is None or code.co_names:
        return False
    return all(
        ins.opname in _DO_NOTHING and (ins.opname not in ("LOAD_CONST", "RETURN_CONST")
                                       or ins.argval in (None, ...))
        for ins in dis.get_instructions(code)
    )


# --- the shape of an answer -----------------------------------------------------------------


def _is_handle(value: Any) -> bool:
    return hasattr(value, "get_workflow_id") and hasattr(value, "get_result")


def wrong_shape(value: Any, *, expected: Literal["result", "handle"], call: str) -> Feedback | None:
    """Feedback if what `call` returned is the wrong kind of thing, else None.

    expected="result": a workflow's result, not a handle or a coroutine.
    expected="handle": a workflow handle, not None, a result or a coroutine.
    """
    if inspect.iscoroutine(value):
        value.close()  # never awaited, so it never ran: close it without a warning
        return wrong(
            f"{call} returned a coroutine, which does nothing until awaited: it called an "
            "`_async` API (or an `async def`) without `await`. Use the sync call, as a script "
            "would."
        )
    if expected == "result" and _is_handle(value):
        return wrong(
            f"{call} returned a workflow handle, not the workflow's result, so it returned "
            "before the workflow finished: call .get_result() on the handle and return that."
        )
    if expected == "handle" and value is None:
        return wrong(f"{call} returned None: return the workflow handle.")
    if expected == "handle" and not _is_handle(value):
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return wrong(
            f"{call} returned {type(value).__name__} {shown}, not a workflow handle: return "
            "the handle, and let the caller decide when to wait for the result."
        )
    return None


def wrong_kind_of_function(fn: Any, *, expected: Literal["sync", "async"], name: str) -> Feedback | None:
    """Feedback if `fn` is not a function, or is `async def` where `def` is asked (or the
    reverse), else None."""
    if not callable(fn):
        return wrong(f"{name} should be a function, not {type(fn).__name__}.")
    is_async = inspect.iscoroutinefunction(inspect.unwrap(fn)) or inspect.iscoroutinefunction(fn)
    if expected == "async" and not is_async:
        return wrong(
            f"{name} should be an `async def`, using the `_async` API with `await`, as a "
            "notebook cell does."
        )
    if expected == "sync" and is_async:
        return wrong(
            f"{name} should be a plain `def`, using the sync API, as a script does: the check "
            "calls it on a thread of its own, with no event loop."
        )
    return None


@contextmanager
def coroutines_never_awaited() -> Iterator[list[str]]:
    """The names of coroutines created and dropped without `await` in the block, on any thread
    (Python warns as it collects one): the trace of an `_async` call that never ran. The list
    is filled when the block ends."""
    dropped: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        try:
            yield dropped
        finally:
            gc.collect()  # a coroutine caught in a reference cycle warns only when collected
            for warning in caught:
                named = re.match(r"coroutine '([^']+)' was never awaited", str(warning.message))
                if named:
                    dropped.append(named.group(1))


# --- DBOS's state ---------------------------------------------------------------------------


def dbos_is_running() -> bool:
    """True if DBOS is constructed and launched in this process (public API only)."""
    from dbos import DBOS
    from dbos import error

    def probe() -> bool:
        try:
            DBOS.get_workflow_status("booktools-is-dbos-running")
        except error.DBOSException as exc:
            # DBOS 3.4: "No DBOS was created yet" (none, or destroyed), "System database
            # accessed before DBOS was launched" (constructed, not launched)
            text = str(exc)
            return not ("No DBOS was created" in text or "before DBOS was launched" in text)
        return True

    return _off_the_loop_if_needed(probe, timeout=30)


@dataclass
class WorkflowRun:
    """How one run of the learner's workflow ended (or that it had not, when finished is False)."""

    workflow_id: str
    status: str | None = None
    result: Any = None
    error: BaseException | None = None
    finished: bool = True

    def step_names(self, client: Any = None) -> list[str]:
        from dbos import DBOS

        source = client if client is not None else DBOS
        return [step["function_name"] for step in source.list_workflow_steps(self.workflow_id)]


def wait_until(condition: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """Call condition() every `interval` s until it returns something true, or `timeout` passes;
    return its last value. Call it where condition may block (off the event loop)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def wait_for_workflow(workflow_id: str, timeout: float, *, handle: Any = None,
                      client: Any = None, cancel_at_limit: bool = True) -> WorkflowRun:
    """Wait up to `timeout` s for a workflow to leave PENDING/ENQUEUED, with its result or error.

    At the limit the workflow is cancelled (a learner's workflow that waits forever must neither
    hang the check nor keep running; cancel_at_limit=False leaves alone a workflow that is the
    notebook's, not the check's) and the run says finished=False. With `handle` (from
    start_workflow in this process) the result comes from it, after DBOS has logged any error;
    with `client` (a DBOSClient) the workflow is read through the client instead of DBOS.
    """
    from dbos import DBOS

    def status_of() -> Any:
        if client is not None:
            return client.retrieve_workflow(workflow_id).get_status()
        return DBOS.get_workflow_status(workflow_id)

    def wait() -> WorkflowRun:
        status = wait_until(
            lambda: (s := status_of()) is not None and s.status not in ("PENDING", "ENQUEUED") and s,
            timeout,
        )
        if not status:
            if cancel_at_limit:
                (client or DBOS).cancel_workflow(workflow_id)
            last = status_of()
            return WorkflowRun(workflow_id, status=last.status if last else None, finished=False)
        source = handle or (client or DBOS).retrieve_workflow(workflow_id)
        try:
            result = source.get_result(polling_interval_sec=0.05)
        except Exception as exc:
            return WorkflowRun(workflow_id, status=status.status, error=exc)
        return WorkflowRun(workflow_id, status=status.status, result=result)

    return _off_the_loop_if_needed(wait, timeout=timeout + 30)


# --- DBOS's own log lines during a check ----------------------------------------------------


_records_of_this_check: list[logging.LogRecord] = []


@contextmanager
def _dbos_log_records() -> Iterator[list[logging.LogRecord]]:
    """Keep what DBOS logs meanwhile, from any thread, out of the cell's output."""
    global _records_of_this_check
    records: list[logging.LogRecord] = []
    _records_of_this_check = records

    class Keep(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            records.append(record)
            return False

    keep = Keep()
    logger = logging.getLogger("dbos")
    logger.addFilter(keep)
    try:
        yield records
    finally:
        logger.removeFilter(keep)


def wait_for_dbos_log(count: int = 1, timeout: float = 2.0) -> bool:
    """Wait until DBOS has logged `count` records during this check (a workflow that failed on
    DBOS's threads logs its traceback just after its status is written), so none of them lands
    in the cell after the verdict. True if they came."""
    return bool(wait_until(lambda: len(_records_of_this_check) >= count, timeout))


def _with_log_summary(feedback: Feedback, records: list[logging.LogRecord]) -> Feedback:
    if feedback.status != "wrong" or not records:
        return feedback
    errors = sum(record.levelno >= logging.ERROR for record in records)
    warnings = len(records) - errors
    counted = [f"{n} {word}{'s' if n != 1 else ''}"
               for n, word in ((errors, "error"), (warnings, "warning")) if n]
    return wrong(
        f"{feedback.message}\n(DBOS logged {' and '.join(counted)} from its threads during "
        "the check, not shown: the line above says what went wrong.)"
    )


# --- the checker decorator ------------------------------------------------------------------


def checker(fn: Callable[..., Feedback] | None = None, *, needs_dbos: bool = False):
    """Make a checker safe to run from a cell: it returns Feedback, whatever happens.

    The first argument is the learner's answer: if it is an unchanged starter, the verdict is
    "Not done yet" at once. With needs_dbos=True, a DBOS that is not launched in this kernel
    gets NOT_RUNNING, before the check and when the check fails, never "your code raised".
    """

    def decorate(check: Callable[..., Feedback]) -> Callable[..., Feedback]:
        if inspect.iscoroutinefunction(check):
            return _async_checker(check, needs_dbos)

        @functools.wraps(check)
        def wrapper(*args, **kwargs) -> Feedback:
            if args and is_unchanged_starter(args[0]):
                return todo()
            if needs_dbos and not dbos_is_running():
                return dbos_not_running()
            with _dbos_log_records() as records:
                try:
                    feedback = check(*args, **kwargs)
                except NotImplementedError:
                    return todo()
                except StillRunning as exc:
                    feedback = wrong(str(exc))
                except Exception as exc:  # the learner's code failed: say how
                    if needs_dbos and not dbos_is_running():
                        return dbos_not_running()
                    feedback = wrong(f"your code raised {type(exc).__name__}: {exc}")
            return _with_log_summary(feedback, records)

        return wrapper

    return decorate(fn) if fn is not None else decorate


def _async_checker(check: Callable[..., Any], needs_dbos: bool) -> Callable[..., Any]:
    """@checker for an `async def` check, awaited in the cell (`await check_x(...)`): for
    answers that must run on the notebook's own event loop, such as async workflows, which
    DBOS runs on the loop that was running when DBOS.launch() was called (a check blocking a
    cell's thread would never let them run). A check still running after DEFAULT_TIMEOUT
    seconds ends with a verdict that says so."""

    @functools.wraps(check)
    async def wrapper(*args, **kwargs) -> Feedback:
        if args and is_unchanged_starter(args[0]):
            return todo()
        if needs_dbos and not dbos_is_running():
            return dbos_not_running()
        with _dbos_log_records() as records:
            try:
                feedback = await asyncio.wait_for(check(*args, **kwargs), DEFAULT_TIMEOUT)
            except NotImplementedError:
                return todo()
            except asyncio.TimeoutError:
                feedback = wrong(
                    f"your code was still running after {DEFAULT_TIMEOUT:g} s, so the check "
                    "stopped waiting. Is it waiting for something that never comes?")
            except Exception as exc:  # the learner's code failed: say how
                if needs_dbos and not dbos_is_running():
                    return dbos_not_running()
                feedback = wrong(f"your code raised {type(exc).__name__}: {exc}")
        return _with_log_summary(feedback, records)

    return wrapper


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
