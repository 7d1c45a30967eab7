"""Checkers for chapter 13, running DBOS in production.

Both run the learner's function with the kit (booktools.exercises): on a thread of its own, with
no event loop, as a script would; `purge_finished` may be an `async def` (awaited there) or a
plain `def`, `place_order` is called as the checkout program calls it.

The checks add workflows of their own to the learner's application when they run, never at
import, and the exercises say so: check_purge_finished registers `ch13-check-order`,
`ch13-check-receipt`, `ch13-check-fails` and `ch13-check-waits` (and a step);
check_place_order adds orders and `fulfil_order` workflows under IDs starting `ex13-`.
Registering them again when a check is re-run is harmless.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from ..exercises import Feedback, checker, correct, off_the_event_loop, wait_for_workflow, wrong

PARKED_QUEUE = "ch13-check-parked"  # nobody polls it: what is put there stays
WAIT_SEC = 30  # how long the check's waiting workflows wait for their message


def _exists(workflow_id: str) -> bool:
    from dbos import DBOS

    return DBOS.get_workflow_status(workflow_id) is not None


# --- exercise 1: a retention pass -----------------------------------------------------------


def _retention_workflows() -> SimpleNamespace:
    """The workflows the check runs on both sides of its cutoff, registered now."""
    from dbos import DBOS

    @DBOS.step(name="ch13-check-note")
    def note(tag: str) -> str:
        return tag

    @DBOS.workflow(name="ch13-check-waits")
    def waits(tag: str) -> str:
        DBOS.recv("go", timeout_seconds=WAIT_SEC)
        return tag

    @DBOS.workflow(name="ch13-check-receipt")
    def receipt(tag: str) -> str:
        return note(tag)

    @DBOS.workflow(name="ch13-check-order")
    def order(tag: str, wait_for_child: bool) -> str:
        child = DBOS.start_workflow(receipt if wait_for_child else waits, tag)
        if wait_for_child:
            child.get_result()
        return tag  # without waiting: it ends while its child still runs

    @DBOS.workflow(name="ch13-check-fails")
    def fails(tag: str) -> str:
        raise RuntimeError(f"{tag} failed, as the check wants")

    return SimpleNamespace(waits=waits, order=order, fails=fails)


def _children(workflow_id: str) -> list[str]:
    from dbos import DBOS

    return [w.workflow_id for w in DBOS.list_workflows(parent_workflow_id=workflow_id)]


def _check_purge(purge_finished) -> Feedback:
    from dbos import DBOS, SetWorkflowID

    wf = _retention_workflows()
    tag = f"ex13-{uuid.uuid4().hex[:6]}"
    ids = {name: f"{tag}-{name}" for name in
           ("old", "failed", "cancelled", "parent", "late", "running", "new")}

    # Before the cutoff: a finished order with its finished child, a failure, a cancelled
    # workflow, a finished order whose child still runs, and two that are still running (one
    # will finish after the cutoff, one not at all).
    with SetWorkflowID(ids["old"]):
        wf.order(ids["old"], True)
    with SetWorkflowID(ids["failed"]):
        try:
            wf.fails(ids["failed"])
        except RuntimeError:
            pass
    DBOS.enqueue_workflow_with_options(
        {"workflow_name": "ch13-check-waits", "queue_name": PARKED_QUEUE,
         "workflow_id": ids["cancelled"]}, ids["cancelled"])
    DBOS.cancel_workflow(ids["cancelled"])
    with SetWorkflowID(ids["parent"]):
        wf.order(ids["parent"], False)
    for name in ("late", "running"):
        with SetWorkflowID(ids[name]):
            DBOS.start_workflow(wf.waits, ids[name])
    old_children = _children(ids["old"])
    running_children = _children(ids["parent"])

    # SQLite stores times to the whole second: the cutoff is the end of this second, and what
    # finishes "after" it finishes in the next one.
    time.sleep(1.02 - time.time() % 1)
    next_second = datetime.now(timezone.utc).replace(microsecond=0)
    cutoff = (next_second - timedelta(milliseconds=1)).isoformat()
    DBOS.send(ids["late"], "go", "go")
    wait_for_workflow(ids["late"], 10)
    with SetWorkflowID(ids["new"]):
        wf.order(ids["new"], True)

    try:
        off_the_event_loop(purge_finished, cutoff, timeout=30)
    finally:
        for waiting in [ids["running"], *running_children]:
            if _exists(waiting):
                DBOS.send(waiting, "go", "go")
                wait_for_workflow(waiting, 10)

    gone = {name: not _exists(workflow_id) for name, workflow_id in ids.items()}
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
    if gone["parent"]:
        return wrong(
            "you deleted a finished order whose child workflow was still running, and the "
            "running child with it: delete_children deletes children whatever their status. "
            "Keep a finished workflow until all its children have finished "
            "(list_workflows(parent_workflow_id=...) lists them)."
        )
    if not any(gone[name] for name in ("old", "failed", "cancelled")):
        return wrong("nothing that finished before the cutoff was deleted.")
    if not gone["old"]:
        return wrong("a workflow that ended in SUCCESS before the cutoff is still there.")
    if any(_exists(child) for child in old_children):
        return wrong(
            "the finished order was deleted, but its child workflow is still there, with "
            "nothing left to reach it by: pass delete_children=True."
        )
    if not gone["failed"]:
        return wrong("a workflow that ended in ERROR before the cutoff is still there.")
    if not gone["cancelled"]:
        return wrong("a workflow CANCELLED before the cutoff is still there.")
    return correct(
        "the finished order and its receipt, the failed and the cancelled workflow are gone; "
        "the order whose child still ran, the running workflow and the two that finished "
        "after the cutoff are kept."
    )


@checker(needs_dbos=True)
def check_purge_finished(purge_finished) -> Feedback:
    return off_the_event_loop(_check_purge, purge_finished)


# --- exercise 2: an order and its workflow, together --------------------------------------


class _Crash(Exception):
    """What the check raises in the checkout: it died before its commit."""


class _ClientThatCrashes:
    """A DBOSClient that does the enqueue, then dies before the caller can commit."""

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


def _engine_that_crashes(engine: sa.Engine) -> sa.Engine:
    """Another engine on the same database, whose INSERT INTO orders dies before it runs."""
    crashing = sa.create_engine(engine.url)

    @sa.event.listens_for(crashing, "before_cursor_execute")
    def crash(conn, cursor, statement, parameters, context, executemany):
        if re.search(r'insert\s+into\s+"?orders\b', statement, re.IGNORECASE):
            raise _Crash("the checkout died as it wrote the order")

    return crashing


def _rows(engine: sa.Engine, order_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT count(*) FROM orders WHERE order_id = :id"), {"id": order_id}
        ).scalar()


def _workflows_for(order_id: str) -> list[str]:
    """IDs of the fulfil_order workflows started for this order, whatever their IDs."""
    from dbos import DBOS

    return [w.workflow_id for w in DBOS.list_workflows(name="fulfil_order", load_output=False)
            if w.input is not None and order_id in w.input["args"]]


def _after_crash(engine: sa.Engine, order_id: str, calls: list[str]) -> Feedback | None:
    """What a crash left of an order: None if neither the row nor the workflow."""
    row, workflows = _rows(engine, order_id) > 0, _workflows_for(order_id)
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

    # Crash 1: the checkout dies as it inserts the order.
    crashing_engine = _engine_that_crashes(engine)
    order_id = f"{tag}-crash-at-insert"
    try:
        off_the_event_loop(place_order, crashing_engine, client, order_id, 10, timeout=30)
    except _Crash:
        pass
    finally:
        crashing_engine.dispose()
    feedback = _after_crash(engine, order_id, [])
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

    # Then a checkout that goes through.
    order_id = f"{tag}-ok"
    expected = f"fulfil-{order_id}"
    returned = off_the_event_loop(place_order, engine, client, order_id, 25, timeout=30)
    row, workflows = _rows(engine, order_id) > 0, _workflows_for(order_id)
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
    if wait_for_workflow(expected, 5).status != "SUCCESS":
        return wrong(
            "the workflow did not run to SUCCESS: enqueue the workflow named "
            '"fulfil_order" on the "orders" queue.'
        )

    # And the same checkout again: its first attempt went through, but the answer was lost.
    try:
        again = off_the_event_loop(place_order, engine, client, order_id, 25, timeout=30)
    except sa.exc.IntegrityError:
        return wrong(
            "the retried checkout raised IntegrityError: its first attempt had been "
            "committed, and the order's row was already there. Look for the order first, in "
            "the same transaction, and return its workflow's ID without writing anything."
        )
    if again != expected:
        return wrong(f"the retried checkout returned {again!r}, not {expected!r}.")
    if _rows(engine, order_id) != 1 or _workflows_for(order_id) != [expected]:
        return wrong("the retried checkout wrote a second order or a second workflow.")
    return correct(
        "a crash at the insert and a crash before the commit each left neither the order nor "
        "its workflow; the committed order was shipped, and its retry found it and changed "
        "nothing."
    )


@checker(needs_dbos=True)
def check_place_order(place_order, engine: sa.Engine, client: Any) -> Feedback:
    return off_the_event_loop(_check_outbox, place_order, engine, client)
