"""Checkers for chapter 6, DBOSClient.

Both checkers call the learner's function for real, on a thread of its own with no event loop,
as the script it belongs in would (so with the sync client API), against the chapter's running
workers; then they read the system database through the client to see what was enqueued and
what ran. The submit check hands the learner's function a client on a flaky network
(`FlakyNetwork`): its first `enqueue` raises ConnectionError, after the database has written
the order (the reply was lost) or before the request reached it.
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
WORKER_WAIT = 10  # seconds a running worker gets to take an enqueued order


class FlakyNetwork:
    """A DBOSClient whose first `enqueue` raises ConnectionError: after the database wrote the
    workflow (lose="reply") or before the request reached it (lose="request"). Every other
    call goes to the real client. It records the options of each enqueue and the IDs written."""

    def __init__(self, client, lose: str | None):
        self._client, self._lose = client, lose
        self.options: list[dict] = []  # of every enqueue the learner's function made
        self.written: list[str] = []  # workflow IDs the database wrote

    def enqueue(self, options, *args, **kwargs):
        self.options.append(dict(options) if isinstance(options, dict) else {})
        first = len(self.options) == 1
        if first and self._lose == "request":
            raise ConnectionError("the connection dropped before the request reached the "
                                  "database")
        handle = self._client.enqueue(options, *args, **kwargs)
        self.written.append(handle.get_workflow_id())
        if first and self._lose == "reply":
            raise ConnectionError("the connection dropped before the database's reply "
                                  "arrived")
        return handle

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


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


def _cancel(client, *workflow_ids: str) -> None:
    for workflow_id in workflow_ids:
        try:
            off_the_event_loop(client.cancel_workflow, workflow_id)
        except Exception:
            pass


def _workflows_for(client, order_id: str) -> list:
    """Every process_order workflow whose order_id argument is order_id."""
    found = off_the_event_loop(lambda: client.list_workflows(name=WORKFLOW_NAME))
    return [w for w in found if (_arguments(w) or {}).get("order_id") == order_id]


def _submit(submit_order: Callable, network: FlakyNetwork, order_id: str, amount: int):
    """The learner's call, or the exception it raised (judged by the caller)."""
    try:
        return off_the_event_loop(submit_order, network, order_id, amount, timeout=TIMEOUT)
    except StillRunning:
        raise
    except Exception as error:  # noqa: BLE001 - named in the feedback
        return error


def _used(network: FlakyNetwork, key: str) -> Any:
    """The value the learner's enqueues gave an option, if any gave it."""
    return next((o[key] for o in network.options if o.get(key) is not None), None)


SAME_ORDER = ('Name the workflow after the order, "workflow_id": order_id in the options: an '
              "enqueue under an existing ID returns that workflow, whenever it comes.")


def _raised(error: Exception, network: FlakyNetwork, when: str) -> Feedback:
    """Feedback for an exception that came out of the learner's function."""
    from dbos import error as dbos_error

    if isinstance(error, ConnectionError):
        if len(network.options) <= 1:
            return wrong(
                f"your function let the ConnectionError out, {when}. Catch ConnectionError "
                "and enqueue again: with a workflow ID made from the order number, the "
                "second enqueue finds the order if the first one was written, and writes it "
                "if it was not."
            )
        return wrong(f"your function raised ConnectionError after {len(network.options)} "
                     "enqueues; only the first one failed.")
    if isinstance(error, dbos_error.DBOSWorkflowIDInUseError):
        return wrong(
            "the retry raised DBOSWorkflowIDInUseError: the first enqueue had been written "
            "(only its reply was lost), and workflow_id_reuse_policy \"reject\" refuses the "
            "ID even to the checkout that wrote it. Keep the default policy: an enqueue "
            "under an existing ID then returns that workflow, which is what a retry needs."
        )
    if isinstance(error, dbos_error.DBOSQueueDeduplicatedError):
        return wrong(
            "the retry raised DBOSQueueDeduplicatedError: the first enqueue had been "
            "written (only its reply was lost), and a deduplication ID refuses a second "
            "enqueue while the first is queued or running (and allows a new one once it "
            f"has finished). {SAME_ORDER}"
        )
    if isinstance(error, dbos_error.DBOSNonExistentWorkflowError):
        return wrong(
            "your function looked the order up (retrieve_workflow) after the "
            "ConnectionError, but this time the connection had dropped before the request "
            "reached the database: nothing was written, so there was nothing to find "
            "(DBOSNonExistentWorkflowError). Enqueue again instead: under the order's "
            "workflow ID, an enqueue returns the workflow if it exists and writes it if not."
        )
    raise error


@checker
def check_submit_order(submit_order: Callable, client) -> Feedback:
    """submit_order(client, order_id, amount) enqueues process_order once per order, whatever
    the network does: a lost reply, a lost request, a second press after the order ran."""
    kind = wrong_kind_of_function(submit_order, expected="sync", name="submit_order")
    if kind:
        return kind
    token = uuid.uuid4().hex[:8]  # new orders on every check
    amount = 40
    # 1. The reply is lost: the order was written, the function sees ConnectionError.
    order_id = f"order-{token}-a"
    network = FlakyNetwork(client, lose="reply")
    try:
        handle = _submit(submit_order, network, order_id, amount)
    except StillRunning:
        return wrong(
            f"your function did not return within {TIMEOUT} s. Return the handle from "
            "client.enqueue at once; the caller decides when to wait for the result."
        )
    if isinstance(handle, Exception):
        return _raised(handle, network, "though the database had written the order (only "
                       "its reply was lost): the checkout would tell the customer the "
                       "payment failed while the order runs anyway")
    if handle is None and len(network.options) == 1:
        return wrong(
            "your function caught the ConnectionError and returned None: the order had been "
            "written and will run, but the checkout cannot tell the customer, or wait for "
            "it. Enqueue again: under a workflow ID made from the order number, the second "
            "enqueue returns the order the first one wrote."
        )
    shape = wrong_shape(handle, expected="handle", call="submit_order()")
    if shape:
        return shape
    workflow_id = handle.get_workflow_id()
    status = _status(client, workflow_id)
    if status.name != WORKFLOW_NAME:
        _cancel(client, *network.written)
        return wrong(
            f"you enqueued a workflow named {status.name!r}; the worker registered "
            f"{WORKFLOW_NAME!r} (the function's __qualname__, with no module prefix). "
            "With a name the worker does not know, the order would wait forever."
        )
    if status.queue_name != QUEUE_NAME:
        _cancel(client, *network.written)
        return wrong(
            f"you enqueued on the queue {status.queue_name!r}, which no worker listens to: "
            f"the order would stay ENQUEUED. The worker's queue is {QUEUE_NAME!r}."
        )
    if _arguments(status) != {"order_id": order_id, "amount": amount}:
        _cancel(client, *network.written)
        return wrong(
            f"the workflow received {status.input!r}. Pass the workflow's arguments after "
            "the options, as in a call: client.enqueue(options, order_id, amount)."
        )
    workflows = _workflows_for(client, order_id)
    if len(workflows) > 1:
        ids = [o.get("workflow_id") for o in network.options]
        why = (
            "Your enqueues set no workflow_id, so DBOS gave each a new random one"
            if not any(ids) else
            f"Your two enqueues used different workflow IDs ({ids[0]!r}, {ids[-1]!r}): "
            "derive the ID from the order number alone"
        )
        return wrong(
            "the first enqueue had been written (only its reply was lost), and the retry "
            f"enqueued the order again: {len(workflows)} workflows, the card charged "
            f"{len(workflows)} times. {why}. {SAME_ORDER}"
        )
    # 2. The request is lost: nothing was written, the function sees ConnectionError.
    other_id = f"order-{token}-b"
    other = FlakyNetwork(client, lose="request")
    other_handle = _submit(submit_order, other, other_id, amount)
    if isinstance(other_handle, Exception):
        return _raised(other_handle, other, "when the request never reached the "
                       "database: the checkout would show an error for a network blip "
                       "that one more try would have got through")
    other_workflows = _workflows_for(client, other_id)
    if not other_workflows:
        return wrong(
            "for an order whose first enqueue failed before it reached the database, "
            "nothing was enqueued: your function must enqueue again after a "
            "ConnectionError, not assume the first enqueue was written."
        )
    shape = wrong_shape(other_handle, expected="handle", call="submit_order()")
    if shape:
        return shape
    # Both orders run on the chapter's worker.
    for run_id in (workflow_id, other_handle.get_workflow_id()):
        final = wait_for_workflow(run_id, WORKER_WAIT, client=client)
        if not final.finished:
            return cannot_check(
                "your orders were enqueued right, but no worker took them within "
                f"{WORKER_WAIT} s, so the check cannot see them run: is worker-a running, "
                "with the latest version? Run the chapter's cells above (or Run All), then "
                "this check again."
            )
        if final.status != "SUCCESS":
            return wrong(f"the workflow ended {final.status}: {final.error!r}")
    # 3. The customer presses "Pay" again, after the order has run.
    again = FlakyNetwork(client, lose=None)
    later = _submit(submit_order, again, order_id, amount)
    if isinstance(later, Exception):
        return _raised(later, again, "on a network that worked")
    shape = wrong_shape(later, expected="handle", call="submit_order()")
    if shape:
        return shape
    workflows = _workflows_for(client, order_id)
    if len(workflows) > 1 or later.get_workflow_id() != workflow_id:
        guard = (
            "A deduplication ID guards an order only while it waits or runs (with "
            "'return-existing' too, it joins it only then); once the order has finished, "
            "the same ID starts a new workflow. "
            if _used(again, "deduplication_id") or _used(network, "deduplication_id") else ""
        )
        return wrong(
            "the customer pressed Pay again after the order had run, and your function "
            f"enqueued it once more: {len(workflows)} workflows for one order. {guard}"
            f"{SAME_ORDER}"
        )
    return correct(
        "the order number names the workflow, so a retry after a lost reply found the "
        "order the first enqueue wrote, a retry after a lost request wrote it, and a "
        "later press of Pay found it again: each order ran once."
    )


@checker
def check_roll_back(
    roll_back: Callable, client, workflow_id: str, worker=None, running_version: str = "1"
) -> Feedback:
    """roll_back(client) lets the worker of running_version take the stuck workflow.

    `worker` (the chapter's worker-a, a booktools.Worker) is the process that should take it:
    when it is not running, no answer can make the workflow run, and the check says so."""
    kind = wrong_kind_of_function(roll_back, expected="sync", name="roll_back")
    if kind:
        return kind
    if worker is not None and not worker.running:
        return _worker_down(workflow_id, running_version, "is not running")
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
    status = wait_for_workflow(workflow_id, WORKER_WAIT, client=client, cancel_at_limit=False)
    if status.status == "CANCELLED" and status.finished:
        return wrong(
            f"{workflow_id} was cancelled, so the customer never gets the order. "
            "It should run, on the worker that is still up."
        )
    status = _status(client, workflow_id)
    if status.status == "ENQUEUED" and status.app_version is None:
        latest = off_the_event_loop(client.get_latest_application_version)["version_name"]
        if latest == running_version:  # the answer did its part; no worker took the order
            return _worker_down(
                workflow_id, running_version,
                f"did not take it within {WORKER_WAIT} s, although {running_version!r} is "
                "the latest version now: is it down",
            )
    if status.status != "SUCCESS":
        return wrong(
            f"{workflow_id} is {status.status} after {WORKER_WAIT} s (version "
            f"{status.app_version!r})."
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


def _worker_down(workflow_id: str, running_version: str, what: str) -> Feedback:
    return cannot_check(
        f"worker-a, the worker of version {running_version!r} that should take {workflow_id}, "
        f"{what} (killed in Crash it yourself, and not restarted?). No answer can make "
        f"{workflow_id} run without it, so the check cannot judge yours. Start worker-a "
        "again: run `worker_a.restart(); worker_a.wait_for(\"ready\")` in a cell (or click "
        "Restart in the Crash it yourself panel), then run this check again."
    )
