"""Checkers for chapter 9, operating and upgrading workflows.

Both exercises ask for an `async def` that uses DBOS's `_async` API, the
notebook idiom. A checker cannot await inside a notebook cell's running event
loop, so it does its work on a thread of its own: there the sync DBOS API
works, and the learner's coroutine runs in a fresh event loop.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid

from dbos import DBOS, SetWorkflowID

from ..exercises import Feedback, checker, correct, off_the_event_loop, todo, wrong

TIMEOUT_SEC = 30


def _call_learner(fn, *args):
    """Call the learner's function, async or not (on a thread with no event loop)."""
    result = fn(*args)
    if inspect.isawaitable(result):
        async def wait():
            return await result

        result = asyncio.run(wait())
    return result


def _wait_until_ended(workflow_id: str, timeout: float = 15) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = DBOS.get_workflow_status(workflow_id)
        if status is not None and status.status in ("SUCCESS", "ERROR", "CANCELLED"):
            return status.status
        time.sleep(0.05)
    return None


# --- exercise 1: fork a failed workflow from the step that failed ---------------

_payments: list[str] = []  # one entry per payment taken, across all runs
_receipt_bug = {"present": True}


@DBOS.step()
def ch09_ex_look_up_invoice(invoice_id: str) -> dict:
    return {"invoice": invoice_id, "amount": 120}


@DBOS.step()
def ch09_ex_take_payment(invoice_id: str, amount: int) -> str:
    _payments.append(invoice_id)
    return f"paid {amount}"


@DBOS.step()
def ch09_ex_send_receipt(invoice_id: str) -> str:
    if _receipt_bug["present"]:
        raise RuntimeError("receipt template missing")
    return f"receipt sent for {invoice_id}"


@DBOS.workflow(name="ch09-exercise-settle-invoice")
def ch09_ex_settle_invoice(invoice_id: str) -> str:
    invoice = ch09_ex_look_up_invoice(invoice_id)
    ch09_ex_take_payment(invoice_id, invoice["amount"])
    return ch09_ex_send_receipt(invoice_id)


def _check_rerun(rerun_from_failed_step) -> Feedback:
    failed_id = f"ex-invoice-{uuid.uuid4().hex[:8]}"
    _receipt_bug["present"] = True
    with SetWorkflowID(failed_id):
        try:
            ch09_ex_settle_invoice(failed_id)
        except RuntimeError:
            pass  # the failure the exercise starts from
    _receipt_bug["present"] = False  # the bug is fixed

    new_id = _call_learner(rerun_from_failed_step, failed_id)
    forks = DBOS.list_workflows(forked_from=failed_id)
    if new_id is None and not forks:
        return todo()
    if new_id is None:
        return wrong("you forked the workflow, but did not return the new workflow's ID.")
    if new_id == failed_id:
        return wrong(
            "you returned the failed workflow's own ID. resume_workflow does nothing to a "
            "workflow that ended in ERROR: fork it, which starts a new workflow with a new ID."
        )
    if not forks:
        return wrong(
            f"{new_id!r} is not a fork of the failed workflow. Use "
            "DBOS.fork_workflow_async(workflow_id, start_step)."
        )
    ended = _wait_until_ended(new_id)
    if ended is None:
        return wrong(
            "the fork did not finish within 15 s. Did you give it an application_version "
            "that no process runs? Leave that argument out."
        )
    paid = _payments.count(failed_id)
    if paid > 1:
        return wrong(
            f"the payment was taken {paid} times: the fork started at or before the "
            "payment step, so it ran that step again. Start at the step that failed, "
            "the first one whose 'error' is set."
        )
    if ended != "SUCCESS":
        return wrong(
            "the fork failed again with the recorded error: it started after the step that "
            "failed, so it copied that step's failure from the original. Start at the "
            "failed step itself."
        )
    if new_id != f"{failed_id}-rerun":
        return wrong(
            "the fork ran correctly, but under a generated ID. Name it: wrap the call in "
            'with SetWorkflowID(f"{workflow_id}-rerun").'
        )
    return correct(
        "the fork copied the look-up and the payment from the original and ran only the "
        "failed step, with the fixed code. The payment was taken once."
    )


@checker
def check_rerun_from_failed_step(rerun_from_failed_step) -> Feedback:
    return off_the_event_loop(_check_rerun, rerun_from_failed_step)


# --- exercise 2: is an old version safe to retire? ------------------------------

OTHER_APP = "ch09-exercise-warehouse"
PARKED_QUEUE = "ch09-exercise-parked"  # nobody polls it: what is put there stays


@DBOS.workflow(name="ch09-exercise-waiter")
def ch09_ex_waiter() -> str:
    DBOS.recv("go", timeout_seconds=TIMEOUT_SEC)
    return "done"


def _park(version: str, owner: str | None, **options) -> str:
    """Enqueue a workflow that will sit on a queue nobody polls."""
    enqueue = {
        "workflow_name": "ch09-exercise-noop",
        "queue_name": PARKED_QUEUE,
        "app_version": version,
        **options,
    }
    if owner is not None:
        enqueue["application_name"] = owner
    return DBOS.enqueue_workflow_with_options(enqueue).get_workflow_id()


def _check_retire(safe_to_retire) -> Feedback:
    tag = uuid.uuid4().hex[:6]
    enqueued = _park(f"w1-{tag}", OTHER_APP)
    delayed = _park(f"w2-{tag}", OTHER_APP, delay_seconds=3600)
    cancelled = _park(f"w3-{tag}", OTHER_APP)
    DBOS.cancel_workflow(cancelled)
    own_enqueued = _park(f"own-{tag}", None)
    with SetWorkflowID(f"ex-waiter-{tag}"):
        waiter = DBOS.start_workflow(ch09_ex_waiter)
    running = DBOS.get_workflow_status(waiter.get_workflow_id())

    scenarios = {  # name: (application, version, the right answer)
        "enqueued": (OTHER_APP, f"w1-{tag}", False),
        "delayed": (OTHER_APP, f"w2-{tag}", False),
        "cancelled": (OTHER_APP, f"w3-{tag}", True),
        "empty": (OTHER_APP, f"w4-{tag}", True),
        "pending": (running.application_name, running.app_version, False),
        "own_enqueued": (running.application_name, f"own-{tag}", False),
    }
    try:
        answers = {
            name: _call_learner(safe_to_retire, app, version)
            for name, (app, version, _) in scenarios.items()
        }
    finally:
        DBOS.send(waiter.get_workflow_id(), "release", "go")
        waiter.get_result(polling_interval_sec=0.05)
        DBOS.cancel_workflows([enqueued, delayed, own_enqueued])

    if all(answer is None for answer in answers.values()):
        return todo()
    odd = [answer for answer in answers.values() if not isinstance(answer, bool)]
    if odd:
        return wrong(f"return True or False, not {odd[0]!r}.")
    if answers["pending"]:
        return wrong(
            "a version with a PENDING workflow (one that is running right now) is not safe "
            "to retire: its servers are running it."
        )
    if answers["own_enqueued"]:
        return wrong(
            "a version with an ENQUEUED workflow is not safe to retire: only a process of "
            "that version will dequeue it."
        )
    if answers["enqueued"]:
        return wrong(
            "you missed unfinished workflows of another application: list_workflows lists "
            "the caller's own application unless you pass application_name=..."
        )
    if answers["delayed"]:
        return wrong(
            "a DELAYED workflow (enqueued with a delay) is waiting to run too: include "
            "DELAYED with PENDING and ENQUEUED."
        )
    if not answers["cancelled"] and not answers["empty"]:
        return wrong(
            "you answered False for a version that has no unfinished workflow. Filter by "
            "app_version=version, and count only PENDING, ENQUEUED and DELAYED workflows."
        )
    if not answers["cancelled"]:
        return wrong(
            "a version whose workflows have all ended (SUCCESS, ERROR or CANCELLED) is safe "
            "to retire: count only PENDING, ENQUEUED and DELAYED workflows."
        )
    if not answers["empty"]:
        return wrong("a version with no workflows at all is safe to retire.")
    return correct(
        "PENDING, ENQUEUED and DELAYED workflows of that application and version block "
        "the retirement; finished ones do not."
    )


@checker
def check_safe_to_retire(safe_to_retire) -> Feedback:
    return off_the_event_loop(_check_retire, safe_to_retire)
