"""Checkers for chapter 3, steps.

Both checkers run the learner's code with DBOS for real, on a thread of their own (DBOS's sync
API, as in a script: a notebook cell's thread runs an event loop, where DBOS refuses blocking
calls). The exercises' props, InventoryError and the refund service, are the chapter's: the
checks receive them. The first check registers one workflow of its own,
ch03_check_reserve_stock, in the running application when it first runs.
"""

from __future__ import annotations

import time
import uuid

from ..exercises import Feedback, checker, correct, off_the_event_loop, wrong

CHECK_WORKFLOW = "ch03_check_reserve_stock"


# --- exercise 1: retry options for a stock service ---------------------------


class FakeInventory:
    """A pretend inventory service: busy (503) for `busy` calls, a dropped connection for
    `dropped` calls, or out of stock (409); it raises the chapter's InventoryError."""

    def __init__(self) -> None:
        self.error_class: type = Exception
        self.reset()

    def reset(self, busy: int = 0, dropped: int = 0, out_of_stock: bool = False) -> None:
        self.busy, self.dropped, self.out_of_stock = busy, dropped, out_of_stock
        self.calls: list[float] = []  # when each call arrived

    def reserve(self, item: str, quantity: int) -> str:
        self.calls.append(time.monotonic())
        if self.dropped > 0:
            self.dropped -= 1
            raise ConnectionError("connection reset by peer")
        if self.busy > 0:
            self.busy -= 1
            raise self.error_class(503, "Service Unavailable")
        if self.out_of_stock:
            raise self.error_class(409, "Out of stock")
        return f"reserved {quantity} x {item}"


_inventory = FakeInventory()
_options_under_test: dict = {}  # workflow arguments must pickle; a should_retry may not
_workflow: list = []  # the check's workflow, registered on first use


def _reserve_stock_workflow():
    from dbos import DBOS

    if not _workflow:
        @DBOS.workflow(name=CHECK_WORKFLOW)
        def reserve_stock(item: str, quantity: int) -> str:
            return DBOS.run_step(_options_under_test, _inventory.reserve, item, quantity)

        _workflow.append(reserve_stock)
    return _workflow[0]


def _run_reserve(options: dict, **service):
    """Run the checker's workflow with these options; return (result or exception, calls)."""
    from dbos import SetWorkflowID

    workflow = _reserve_stock_workflow()
    _options_under_test.clear()
    _options_under_test.update(options)
    _inventory.reset(**service)

    def run():
        with SetWorkflowID(f"ch03-check-reserve-{uuid.uuid4()}"):
            try:
                return workflow("teapot", 2)
            except Exception as error:  # the outcome we are checking
                return error

    outcome = off_the_event_loop(run)
    return outcome, list(_inventory.calls)


def _describe(outcome) -> str:
    if isinstance(outcome, Exception):
        return f"{type(outcome).__name__}: {outcome}"
    return repr(outcome)


@checker(needs_dbos=True)
def check_reserve_options(reserve_options, inventory_error: type) -> Feedback:
    """The StepOptions of exercise 1, run against a fake inventory service that raises the
    chapter's `inventory_error` class."""
    from dbos import error as dbos_errors

    _inventory.error_class = InventoryError = inventory_error
    if not isinstance(reserve_options, dict):
        return wrong(
            "reserve_options should be a dictionary of step options, such as "
            "{'retries_allowed': True, 'max_attempts': ...}, not "
            f"{type(reserve_options).__name__}."
        )
    if not reserve_options.get("retries_allowed"):
        return wrong(
            "retries are off: without 'retries_allowed': True, DBOS makes one attempt and "
            "ignores max_attempts, interval_seconds and backoff_rate."
        )
    attempts = reserve_options.get("max_attempts", 3)
    if attempts == 3 and "max_attempts" in reserve_options:
        return wrong(
            "max_attempts counts the first attempt too: one attempt plus three retries "
            "is max_attempts=4."
        )
    if attempts != 4:
        return wrong(f"the step should make at most 4 attempts in all, not {attempts}.")
    interval = reserve_options.get("interval_seconds", 1.0)
    if interval != 0.05:
        return wrong(
            f"interval_seconds is {interval}: the first wait should be 0.05 s"
            + (" (the default is 1.0)." if "interval_seconds" not in reserve_options else ".")
        )
    backoff = reserve_options.get("backoff_rate", 2.0)
    if backoff != 2.0:
        return wrong(
            f"backoff_rate is {backoff}: each wait should be twice the one before, "
            "so 2.0 (which is also the default)."
        )
    if "should_retry" not in reserve_options:
        return wrong(
            "an out-of-stock answer would be retried 4 times: add 'should_retry', a "
            "function that returns False for an InventoryError whose status is 409."
        )

    # A dropped connection is no InventoryError: should_retry receives it too.
    outcome, calls = _run_reserve(reserve_options, dropped=1)
    if isinstance(outcome, (AttributeError, TypeError)):
        return wrong(
            f"a dropped connection (ConnectionError) made your should_retry raise "
            f"{_describe(outcome)}. should_retry receives every exception the step raises, "
            "not only InventoryError: check isinstance(error, InventoryError) before "
            "reading error.status."
        )
    if isinstance(outcome, ConnectionError):
        return wrong(
            "a dropped connection (ConnectionError) was not retried: your should_retry "
            "returned False for it. Only an out-of-stock answer (409) is final."
        )
    if isinstance(outcome, Exception) or len(calls) != 2:
        return wrong(
            "after one dropped connection, expected 2 calls and the reservation; saw "
            f"{len(calls)} calls and {_describe(outcome)}."
        )

    # Busy twice: two retries, then success, with the configured waits between.
    outcome, calls = _run_reserve(reserve_options, busy=2)
    if isinstance(outcome, InventoryError) and outcome.status == 503:
        return wrong(
            "a busy service (503) was not retried: your should_retry returned False for "
            "it. Return False only for status 409."
        )
    if isinstance(outcome, Exception):
        return wrong(f"with the service busy twice, the workflow failed: {_describe(outcome)}")
    if len(calls) != 3:
        return wrong(f"with the service busy twice, expected 3 calls, saw {len(calls)}.")
    gaps = [later - earlier for earlier, later in zip(calls, calls[1:])]
    if gaps[0] < 0.05 or gaps[1] < 0.1:
        return wrong(
            "the waits between attempts were shorter than 0.05 s and 0.1 s; check "
            "interval_seconds and backoff_rate."
        )

    # Out of stock: one call, and the InventoryError itself reaches the workflow.
    outcome, calls = _run_reserve(reserve_options, out_of_stock=True)
    if isinstance(outcome, dbos_errors.DBOSMaxStepRetriesExceeded):
        return wrong(
            f"an out-of-stock answer was retried ({len(calls)} calls) until the retries ran "
            "out: your should_retry must return False for an InventoryError with status 409."
        )
    if not (isinstance(outcome, InventoryError) and outcome.status == 409):
        return wrong(
            "when the item is out of stock, the workflow should receive the InventoryError "
            f"(409) itself, but it got {_describe(outcome)}."
        )
    if len(calls) != 1:
        return wrong(f"out of stock should take 1 call, it took {len(calls)}.")

    # Busy for good: four attempts, then DBOSMaxStepRetriesExceeded.
    outcome, calls = _run_reserve(reserve_options, busy=99)
    if not isinstance(outcome, dbos_errors.DBOSMaxStepRetriesExceeded) or len(calls) != 4:
        return wrong(
            "with the service busy for good, expected 4 calls and then "
            f"DBOSMaxStepRetriesExceeded; saw {len(calls)} calls and {_describe(outcome)}."
        )
    return correct(
        "a dropped connection: 2 calls; busy twice: 3 calls, then the reservation; out of "
        "stock: 1 call and the InventoryError itself; busy for good: 4 calls, then "
        "DBOSMaxStepRetriesExceeded."
    )


# --- exercise 2: a refund, exactly once ---------------------------------------


def _refund_rows(shop_db, order_id: str) -> int:
    import sqlalchemy as sa

    with shop_db.engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT count(*) FROM refunds WHERE order_id = :id"), {"id": order_id}
        ).scalar_one()


@checker(needs_dbos=True)
def check_refund_order(refund_order, refund_service, shop_db) -> Feedback:
    """Run the learner's refund workflow, replay it, and count refunds and rows.

    refund_service is the chapter's: reset(outage=1) makes it fail its next call with a
    RefundError (status 503), refunds_for(order_id) counts the refunds it issued.
    """
    from dbos import DBOS, SetWorkflowID
    order_id = f"order-r{uuid.uuid4().hex[:6]}"
    workflow_id = f"ch03-check-refund-{order_id}"
    refund_service.reset(outage=1)

    # Count the transactions that go through the datasource, without changing them.
    transactions = []
    original_run_tx_step = shop_db.run_tx_step

    def counting_run_tx_step(options, function, *args, **kwargs):
        transactions.append(getattr(function, "__name__", "?"))
        return original_run_tx_step(options, function, *args, **kwargs)

    def first_run():
        try:
            with SetWorkflowID(workflow_id):
                outcome = refund_order(order_id, 15)
        except Exception as error:  # the outcome we are checking
            outcome = error
        return outcome, DBOS.get_workflow_status(workflow_id)

    shop_db.run_tx_step = counting_run_tx_step
    try:
        result, status = off_the_event_loop(first_run)
    finally:
        del shop_db.run_tx_step  # back to the class's method
    refunds = refund_service.refunds_for(order_id)
    rows = _refund_rows(shop_db, order_id)
    if status is None:
        return wrong(
            "refund_order did not run as a workflow: decorate it with @DBOS.workflow(). "
            "Outside a workflow, steps are plain calls, with no checkpoints and no retries."
        )
    if type(result).__name__ == "RefundError":
        return wrong(
            f"the workflow failed with RefundError: {result}. The refund service is down "
            "for its first call: call it from a step with retries_allowed=True."
        )
    if isinstance(result, AssertionError) and "sql_session" in str(result):
        return wrong(
            "shop_db.sql_session() was called outside a datasource transaction: decorate "
            "record_refund with @shop_db.transaction()."
        )
    if isinstance(result, Exception):
        return wrong(f"the workflow failed with {type(result).__name__}: {result}")
    if refunds != 1:
        return wrong(f"one run of the workflow issued {refunds} refunds; it should issue 1.")
    if rows != 1:
        return wrong(
            f"one run of the workflow wrote {rows} rows to the refunds table; it should "
            "write 1, with shop_db.sql_session() inside record_refund."
        )
    if not (isinstance(result, str) and result.startswith("rf_")):
        return wrong(f"refund_order should return the refund ID, like 'rf_1', not {result!r}.")

    # Replay the finished workflow from its checkpoints, as recovery would.
    def replay():
        return DBOS.fork_workflow(workflow_id, 1000).get_result(polling_interval_sec=0.05)

    replayed = off_the_event_loop(replay)
    if refund_service.refunds_for(order_id) != 1:
        return wrong(
            "replaying the workflow issued a second refund: the call to "
            "refund_service.issue is not in a step, so nothing recorded it. Move it into "
            "issue_refund, a @DBOS.step."
        )
    if _refund_rows(shop_db, order_id) != 1:
        return wrong(
            "replaying the workflow wrote the row again: the insert ran in the workflow "
            "body. Do it in record_refund, decorated with @shop_db.transaction()."
        )
    if replayed != result:
        return wrong(f"the replay returned {replayed!r}, the first run {result!r}.")
    if not transactions:
        return wrong(
            "the row was written, but not through the datasource, so its checkpoint is not "
            "committed with it: a crash right after the commit would write it twice. "
            "Decorate record_refund with @shop_db.transaction()."
        )
    return correct(
        "one refund, retried through the outage; one row, written by a datasource "
        "transaction; and the replay changed neither."
    )
