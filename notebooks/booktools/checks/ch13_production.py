"""Checkers for chapter 13, running DBOS in production.

Both run the learner's code on a thread of its own (booktools.exercises.off_the_event_loop), where
DBOS's sync API works as in a script: `purge_finished` is awaited there in a fresh event loop,
`place_order` is called as the checkout program would call it.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from dbos import DBOS, SetWorkflowID

from ..exercises import Feedback, checker, correct, off_the_event_loop, todo, wrong

PARKED_QUEUE = "ch13-exercise-parked"  # nobody polls it: what is put there stays


def _exists(workflow_id: str) -> bool:
    return DBOS.get_workflow_status(workflow_id) is not None


def _wait_until_ended(workflow_id: str, timeout: float = 15) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = DBOS.get_workflow_status(workflow_id)
        if status is not None and status.status not in ("PENDING", "ENQUEUED", "DELAYED"):
            return status.status
        time.sleep(0.05)
    return None


# --- exercise 1: a retention pass -----------------------------------------------------------


@DBOS.step()
def ch13_ex_note(tag: str) -> str:
    return tag


@DBOS.workflow(name="ch13-exercise-receipt")
def ch13_ex_receipt(tag: str) -> str:
    return ch13_ex_note(tag)


@DBOS.workflow(name="ch13-exercise-order")
def ch13_ex_order(tag: str) -> str:
    return DBOS.start_workflow(ch13_ex_receipt, tag).get_result()


@DBOS.workflow(name="ch13-exercise-fails")
def ch13_ex_fails(tag: str) -> str:
    raise RuntimeError(f"{tag} failed, as the checker wants")


@DBOS.workflow(name="ch13-exercise-waits")
def ch13_ex_waits(tag: str) -> str:
    DBOS.recv("go", timeout_seconds=60)
    return tag


def _run(workflow, workflow_id: str) -> None:
    with SetWorkflowID(workflow_id):
        try:
            workflow(workflow_id)
        except RuntimeError:
            pass  # the failure the checker wants


def _release(workflow_id: str) -> None:
    DBOS.send(workflow_id, "go", "go")
    _wait_until_ended(workflow_id)


def _check_purge(purge_finished) -> Feedback:
    tag = f"ex13-{uuid.uuid4().hex[:6]}"
    ids = {name: f"{tag}-{name}" for name in
           ("old", "failed", "cancelled", "late", "running", "new")}

    # Before the cutoff: a finished order with a child, a failure, a cancelled workflow, and
    # two that are still running (one will finish after the cutoff, one not at all).
    _run(ch13_ex_order, ids["old"])
    _run(ch13_ex_fails, ids["failed"])
    DBOS.enqueue_workflow_with_options(
        {"workflow_name": "ch13-exercise-waits", "queue_name": PARKED_QUEUE,
         "workflow_id": ids["cancelled"]}, ids["cancelled"])
    DBOS.cancel_workflow(ids["cancelled"])
    for name in ("late", "running"):
        with SetWorkflowID(ids[name]):
            DBOS.start_workflow(ch13_ex_waits, ids[name])
    children = [w.workflow_id for w in DBOS.list_workflows(parent_workflow_id=ids["old"])]

    # SQLite stores times to the whole second: the cutoff is the end of this second, and what
    # finishes "after" it finishes in the next one.
    time.sleep(1.02 - time.time() % 1)
    next_second = datetime.now(timezone.utc).replace(microsecond=0)
    cutoff = (next_second - timedelta(milliseconds=1)).isoformat()
    _release(ids["late"])
    _run(ch13_ex_order, ids["new"])

    try:
        off_the_event_loop(purge_finished, cutoff, timeout=30)
    finally:
        if _exists(ids["running"]):
            _release(ids["running"])

    gone = {name: not _exists(workflow_id) for name, workflow_id in ids.items()}
    children_left = [c for c in children if _exists(c)]
    if gone["running"]:
        return wrong(
            "you deleted a workflow that was still running (PENDING): delete only finished "
            'workflows, status=["SUCCESS", "ERROR", "CANCELLED"].'
        )
    if gone["late"]:
        return wrong(
            "you deleted a workflow that started before the cutoff but finished after it. "
            "Filter on when a workflow completed, completed_before=cutoff, not on when it "
            "started (end_time)."
        )
    if gone["new"]:
        return wrong("you deleted a workflow that finished after the cutoff.")
    if not any(gone[name] for name in ("old", "failed", "cancelled")):
        return wrong("nothing that finished before the cutoff was deleted.")
    if not gone["old"]:
        return wrong("a workflow that ended in SUCCESS before the cutoff is still there.")
    if children_left:
        return wrong(
            "the finished order was deleted, but its child workflow is still there, with "
            "nothing left to reach it by: pass delete_children=True."
        )
    if not gone["failed"]:
        return wrong("a workflow that ended in ERROR before the cutoff is still there.")
    if not gone["cancelled"]:
        return wrong("a workflow CANCELLED before the cutoff is still there.")
    return correct(
        "the order and its receipt, the failed and the cancelled workflow are gone; the "
        "running workflow and the two that finished after the cutoff are kept."
    )


@checker
def check_purge_finished(purge_finished) -> Feedback:
    return off_the_event_loop(_check_purge, purge_finished)


# --- exercise 2: an order and its workflow, together --------------------------------------


class _Crash(Exception):
    """What the checker's client raises: the checkout died before its commit."""


class _ClientThatCrashes:
    """A DBOSClient that does the enqueue, then fails before the caller can commit."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []

    def enqueue_in_transaction(self, conn, options, *args, **kwargs):
        self.calls.append("enqueue_in_transaction")
        self._client.enqueue_in_transaction(conn, options, *args, **kwargs)
        raise _Crash("the checkout died before its transaction committed")

    def enqueue(self, options, *args, **kwargs):
        self.calls.append("enqueue")  # never right here: it commits on its own connection
        raise _Crash("the checkout died at the enqueue")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def _has_order(engine: sa.Engine, order_id: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT count(*) FROM orders WHERE order_id = :id"), {"id": order_id}
        ).scalar() > 0


def _workflows_for(order_id: str) -> list[str]:
    """IDs of the fulfil_order workflows started for this order, whatever their IDs."""
    return [w.workflow_id for w in DBOS.list_workflows(name="fulfil_order", load_output=False)
            if w.input is not None and order_id in w.input["args"]]


def _engine_that_crashes(engine: sa.Engine) -> sa.Engine:
    """Another engine on the same database, whose INSERT INTO orders dies before it runs."""
    crashing = sa.create_engine(engine.url)

    @sa.event.listens_for(crashing, "before_cursor_execute")
    def crash(conn, cursor, statement, parameters, context, executemany):
        if re.search(r'insert\s+into\s+"?orders\b', statement, re.IGNORECASE):
            raise _Crash("the checkout died as it wrote the order")

    return crashing


def _after_crash(engine: sa.Engine, order_id: str, calls: list[str]) -> Feedback | None:
    """What a crash left of an order: None if neither the row nor the workflow."""
    row, workflows = _has_order(engine, order_id), _workflows_for(order_id)
    if "enqueue" in calls:
        return wrong(
            "client.enqueue commits the workflow at once, on the client's own connection, "
            "apart from your transaction (on SQLite it even waits for your transaction's lock). "
            "Use client.enqueue_in_transaction(conn, ...) with your transaction's connection."
        )
    if row and not workflows:
        return wrong(
            "the order was committed on its own: after the crash it had no workflow, and "
            "nobody would ship it. Insert and enqueue in one transaction: "
            "`with engine.begin() as conn:` around both."
        )
    if workflows and not row:
        return wrong(
            "the workflow was committed on its own: after the crash it was there without its "
            "order. Insert and enqueue in one transaction, the same `conn` for both."
        )
    if row and workflows:
        return wrong(
            "the client failed before your transaction committed, yet both were committed: "
            "let the failure end the `with engine.begin()` block, which then rolls back."
        )
    return None


def _check_outbox(place_order, engine: sa.Engine, client: Any) -> Feedback:
    tag = f"ex13-{uuid.uuid4().hex[:6]}"
    calls: list[str] = []

    # Crash 1: the checkout dies as it inserts the order.
    crashing_engine = _engine_that_crashes(engine)
    order_id = f"{tag}-crash-at-insert"
    try:
        off_the_event_loop(place_order, crashing_engine, client, order_id, 10, timeout=30)
    except _Crash:
        pass
    finally:
        crashing_engine.dispose()
    feedback = _after_crash(engine, order_id, calls)
    if feedback is not None:
        return feedback

    # Crash 2: the checkout dies right after its enqueue.
    crashing_client = _ClientThatCrashes(client)
    order_id = f"{tag}-crash-after-enqueue"
    try:
        off_the_event_loop(place_order, engine, crashing_client, order_id, 10, timeout=30)
    except _Crash:
        pass
    feedback = _after_crash(engine, order_id, crashing_client.calls)
    if feedback is not None:
        return feedback

    order_id = f"{tag}-ok"
    expected = f"fulfil-{order_id}"
    returned = off_the_event_loop(place_order, engine, client, order_id, 25, timeout=30)
    row, workflows = _has_order(engine, order_id), _workflows_for(order_id)
    if not crashing_client.calls and not row and not workflows:
        return todo()
    if not row:
        return wrong(f"no row for {order_id!r} in the orders table.")
    if not workflows:
        return wrong("no fulfil_order workflow was enqueued for the order.")
    if expected not in workflows:
        return wrong(
            f"the workflow was enqueued under the ID {workflows[0]!r}: use "
            "f\"fulfil-{order_id}\", so a retried checkout finds the same workflow."
        )
    if returned != expected:
        return wrong(f"return the workflow's ID, {expected!r}, not {returned!r}.")
    if _wait_until_ended(expected, timeout=5) != "SUCCESS":
        return wrong(
            "the workflow did not run to SUCCESS: enqueue the workflow named "
            '"fulfil_order" on the "orders" queue.'
        )
    return correct(
        "the crash before the commit left neither the order nor its workflow, and the "
        "committed order was shipped."
    )


@checker
def check_place_order(place_order, engine: sa.Engine, client: Any) -> Feedback:
    return off_the_event_loop(_check_outbox, place_order, engine, client)
