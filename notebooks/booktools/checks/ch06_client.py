"""Checkers for chapter 6, DBOSClient.

Both checkers run the learner's function for real, with the sync client API,
against the chapter's running workers, then read the system database through
the client to see what was enqueued and what ran. The learner's code runs on a
helper thread: a notebook cell has an event loop running, a script does not,
and the sync API belongs to the script.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any, Callable

from ..exercises import Feedback, checker, correct, todo, wrong

WORKFLOW_NAME = "process_order"
QUEUE_NAME = "orders"
PARAMETERS = ("order_id", "amount")


def _stub(*args, **kwargs):
    ...


def _is_stub(fn: Callable) -> bool:
    """True for a function whose body is only `...` (the starter)."""
    code = getattr(fn, "__code__", None)
    return code is not None and code.co_code == _stub.__code__.co_code and not code.co_names


class _StillRunning(Exception):
    pass


def _off_loop(fn: Callable, *args: Any, timeout: float = 15) -> Any:
    """Call fn(*args) on a thread with no event loop, as a script would."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn(*args)
        except BaseException as exc:  # reported to the learner by @checker
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise _StillRunning()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _status(client, workflow_id: str):
    return _off_loop(lambda: client.retrieve_workflow(workflow_id).get_status())


def _wait_until_done(client, workflow_id: str, timeout: float):
    """The workflow's status once it leaves ENQUEUED/PENDING, or the last one seen."""
    deadline = time.monotonic() + timeout
    while True:
        status = _status(client, workflow_id)
        if status.status not in ("ENQUEUED", "PENDING") or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def _arguments(status) -> dict[str, Any] | None:
    """The workflow's inputs as {parameter: value}, or None if they do not fit."""
    recorded = status.input or {}
    args, kwargs = tuple(recorded.get("args", ())), dict(recorded.get("kwargs", {}))
    if len(args) > len(PARAMETERS):
        return None
    bound = dict(zip(PARAMETERS, args))
    for key, value in kwargs.items():
        if key not in PARAMETERS or key in bound:
            return None
        bound[key] = value
    return bound if set(bound) == set(PARAMETERS) else None


def _cancel(client, workflow_id: str) -> None:
    try:
        _off_loop(lambda: client.cancel_workflow(workflow_id))
    except Exception:
        pass


def _workflows_for(client, order_id: str) -> list:
    """Every process_order workflow whose order_id argument is order_id."""
    found = _off_loop(lambda: client.list_workflows(name=WORKFLOW_NAME))
    return [w for w in found if (_arguments(w) or {}).get("order_id") == order_id]


@checker
def check_submit_order(submit_order: Callable, client) -> Feedback:
    """submit_order(client, order_id, amount) enqueues process_order, once per order."""
    if _is_stub(submit_order):
        return todo()
    order_id = f"order-{uuid.uuid4().hex[:8]}"  # a new order on every check
    amount = 40
    try:
        first = _off_loop(submit_order, client, order_id, amount)
    except _StillRunning:
        return wrong(
            "your function did not return within 15 s. Return the handle from "
            "client.enqueue at once; the caller decides when to wait for the result."
        )
    if first is None:
        return wrong(
            "your function returned None: return the handle that client.enqueue gives you."
        )
    if hasattr(first, "__await__"):
        getattr(first, "close", lambda: None)()  # never awaited: nothing was enqueued
        return wrong(
            "your function returned a coroutine: it is for a script, so use the sync "
            "API, client.enqueue(...), not client.enqueue_async(...)."
        )
    if not hasattr(first, "get_workflow_id"):
        return wrong(
            f"your function returned {type(first).__name__} {first!r}, not a workflow handle: "
            "return what client.enqueue returns, and let the caller wait for the result."
        )
    workflow_id = first.get_workflow_id()
    status = _status(client, workflow_id)
    if status.name != WORKFLOW_NAME:
        _cancel(client, workflow_id)
        return wrong(
            f"you enqueued a workflow named {status.name!r}; the worker registered "
            f"{WORKFLOW_NAME!r} (the function's __qualname__, with no module prefix). "
            "With a name the worker does not know, the order would wait forever."
        )
    if status.queue_name != QUEUE_NAME:
        _cancel(client, workflow_id)
        return wrong(
            f"you enqueued on the queue {status.queue_name!r}, which no worker listens to: "
            f"the order would stay ENQUEUED. The worker's queue is {QUEUE_NAME!r}."
        )
    arguments = _arguments(status)
    if arguments != {"order_id": order_id, "amount": amount}:
        _cancel(client, workflow_id)
        return wrong(
            f"the workflow received {status.input!r}. Pass the workflow's arguments after "
            "the options, as in a call: client.enqueue(options, order_id, amount)."
        )
    second = _off_loop(submit_order, client, order_id, amount)
    workflows = _workflows_for(client, order_id)
    if len(workflows) > 1:
        return wrong(
            f"calling submit_order twice for the same order created {len(workflows)} "
            "workflows, so a retried checkout would charge the customer twice. Name the "
            'workflow after the order: "workflow_id": order_id in the options.'
        )
    if second.get_workflow_id() != workflow_id:
        return wrong(
            "the two calls returned handles to different workflows: derive the "
            "workflow ID from the order number alone."
        )
    final = _wait_until_done(client, workflow_id, timeout=15)
    if final.status != "SUCCESS":
        return wrong(f"the workflow ended {final.status}: {final.error!r}")
    return correct(
        "the order number names the workflow, so the retried call found the same "
        "workflow and the worker processed the order once."
    )


@checker
def check_roll_back(
    roll_back: Callable, client, workflow_id: str, running_version: str = "1"
) -> Feedback:
    """roll_back(client) lets the worker of running_version take the stuck workflow."""
    if _is_stub(roll_back):
        return todo()
    before = {w.workflow_id for w in _off_loop(lambda: client.list_workflows())}
    try:
        _off_loop(roll_back, client)
    except _StillRunning:
        return wrong(
            "your function did not return within 15 s: one call on the client is enough."
        )
    after = {w.workflow_id for w in _off_loop(lambda: client.list_workflows())}
    created = sorted(after - before)
    latest = _off_loop(client.get_latest_application_version)["version_name"]
    status = _status(client, workflow_id)
    if status.status == "ENQUEUED" and status.app_version is None and latest != running_version:
        if created:
            return wrong(
                f"you created a new workflow ({', '.join(created)}), but {workflow_id} "
                "itself is still ENQUEUED, and so will be every new version-less order. "
                "Change which version takes version-less work instead."
            )
        return wrong(
            f"{workflow_id} is still ENQUEUED: version-less work goes only to a worker "
            f"of the latest version, which is {latest!r}, and no worker runs it now "
            "(resume_workflow, or enqueueing the same ID again, leave the workflow as it "
            f"is). Make {running_version!r}, the version worker-a runs, the latest."
        )
    status = _wait_until_done(client, workflow_id, timeout=10)
    if status.status == "CANCELLED":
        return wrong(
            f"{workflow_id} was cancelled, so the customer never gets the order. "
            "It should run, on the worker that is still up."
        )
    if status.status != "SUCCESS":
        return wrong(
            f"{workflow_id} is {status.status} after 10 s (version {status.app_version!r})."
        )
    if status.app_version != running_version:
        return wrong(
            f"{workflow_id} ran on version {status.app_version!r}; the point was to let the "
            f"running worker, version {running_version!r}, take it."
        )
    return correct(
        f"version {running_version!r} is the latest again, so worker-a took {workflow_id} "
        "at its next poll and stamped it with its own version."
    )
