"""Checkers for chapter 6, DBOSClient.

Both checkers call the learner's function for real, on a thread of its own with no event loop,
as the script it belongs in would (so with the sync client API), against the chapter's running
workers; then they read the system database through the client to see what was enqueued and
what ran.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

from ..exercises import (
    Feedback, StillRunning, cannot_check, checker, coroutines_never_awaited, correct,
    off_the_event_loop,
    wait_for_workflow, wrong, wrong_kind_of_function, wrong_shape,
)

WORKFLOW_NAME = "process_order"
QUEUE_NAME = "orders"
PARAMETERS = ("order_id", "amount")
TIMEOUT = 15  # seconds for one call of the learner's function


def _status(client, workflow_id: str):
    return off_the_event_loop(lambda: client.retrieve_workflow(workflow_id).get_status())


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
        off_the_event_loop(client.cancel_workflow, workflow_id)
    except Exception:
        pass


def _workflows_for(client, order_id: str) -> list:
    """Every process_order workflow whose order_id argument is order_id."""
    found = off_the_event_loop(lambda: client.list_workflows(name=WORKFLOW_NAME))
    return [w for w in found if (_arguments(w) or {}).get("order_id") == order_id]


def _submit(submit_order: Callable, client, order_id: str, amount: int):
    """The learner's call, or the exception it raised (judged by the caller)."""
    try:
        return off_the_event_loop(submit_order, client, order_id, amount, timeout=TIMEOUT)
    except StillRunning:
        raise
    except Exception as error:  # noqa: BLE001 - named in the feedback
        return error


@checker
def check_submit_order(submit_order: Callable, client) -> Feedback:
    """submit_order(client, order_id, amount) enqueues process_order, once per order."""
    from dbos import error

    kind = wrong_kind_of_function(submit_order, expected="sync", name="submit_order")
    if kind:
        return kind
    order_id = f"order-{uuid.uuid4().hex[:8]}"  # a new order on every check
    amount = 40
    try:
        first = _submit(submit_order, client, order_id, amount)
    except StillRunning:
        return wrong(
            f"your function did not return within {TIMEOUT} s. Return the handle from "
            "client.enqueue at once; the caller decides when to wait for the result."
        )
    if isinstance(first, Exception):
        raise first
    shape = wrong_shape(first, expected="handle", call="submit_order()")
    if shape:
        return shape
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
    second = _submit(submit_order, client, order_id, amount)
    if isinstance(second, error.DBOSQueueDeduplicatedError):
        return wrong(
            "the second call for the same order raised DBOSQueueDeduplicatedError: a "
            "deduplication ID refuses a second enqueue while the first is queued or running "
            "(and allows a new one once it has finished), so a retried checkout gets an "
            "error, or a second run. Name the workflow after the order instead: "
            '"workflow_id": order_id in the options; the retry then gets the same workflow.'
        )
    if isinstance(second, Exception):
        raise second
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
    final = wait_for_workflow(workflow_id, 15, client=client)
    if not final.finished:
        return cannot_check(
            f"your order was enqueued right, but no worker took it within 15 s, so the check "
            "cannot see it run: is worker-a running, with the latest version? Run the "
            "chapter's cells above (or Run All), then this check again."
        )
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
    kind = wrong_kind_of_function(roll_back, expected="sync", name="roll_back")
    if kind:
        return kind
    before = {w.workflow_id for w in off_the_event_loop(client.list_workflows)}
    try:
        with coroutines_never_awaited() as dropped:
            returned = off_the_event_loop(roll_back, client, timeout=TIMEOUT)
    except StillRunning:
        return wrong(
            f"your function did not return within {TIMEOUT} s: one call on the client is enough."
        )
    never_ran = dropped + ([returned.__qualname__] if hasattr(returned, "cr_code") else [])
    if hasattr(returned, "close"):
        returned.close()
    if never_ran:
        call = never_ran[0].rsplit(".", 1)[-1]
        return wrong(
            f"your function called {call} without `await`, so the call never ran: an "
            "`_async` method only makes a coroutine. roll_back is for a script: use the sync "
            f"method, {call.removesuffix('_async')}(...)."
        )
    after = {w.workflow_id for w in off_the_event_loop(client.list_workflows)}
    created = sorted(after - before)
    latest = off_the_event_loop(client.get_latest_application_version)["version_name"]
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
    status = wait_for_workflow(workflow_id, 10, client=client, cancel_at_limit=False)
    if status.status == "CANCELLED" and status.finished:
        return wrong(
            f"{workflow_id} was cancelled, so the customer never gets the order. "
            "It should run, on the worker that is still up."
        )
    status = _status(client, workflow_id)
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
