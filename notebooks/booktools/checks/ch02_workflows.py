"""Checkers for chapter 2, Workflows.

Both checkers run the learner's code with DBOS for real, on a thread of their own, as a script
would (a notebook cell's thread runs an event loop, where DBOS refuses blocking calls).
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from ..exercises import (
    Feedback, checker, correct, off_the_event_loop, wait_for_dbos_log, wrong,
    wrong_kind_of_function, wrong_shape,
)

CHECK_QUEUE = "ch02-checker"  # forks run on it, so they start at once


def _charges(ledger: Path, invoice_id: str) -> int:
    if not Path(ledger).exists():
        return 0
    return sum(line.split()[:2] == ["invoice", invoice_id]
               for line in Path(ledger).read_text().splitlines())


# --- exercise 1: pay each invoice once ---------------------------------------


def _of_another_invoice(result, invoice_id: str) -> bool:
    """A recorded result that names some other invoice (pay_invoice returns "<id>: paid <n>")."""
    return isinstance(result, str) and not result.startswith(f"{invoice_id}:")


@checker(needs_dbos=True)
def check_pay_once(pay: Callable[[str, int], str], ledger: str | Path) -> Feedback:
    """`pay(invoice_id, amount)` runs pay_invoice once per invoice, however often."""
    kind = wrong_kind_of_function(pay, expected="sync", name="pay")
    if kind:
        return kind
    token = uuid.uuid4().hex[:6]  # fresh invoices, so a re-run is judged on its own
    first, second = f"INV-{token}-1", f"INV-{token}-2"
    calls = [(first, 30), (first, 30), (second, 45)]
    results = [off_the_event_loop(pay, invoice, amount, timeout=30) for invoice, amount in calls]
    for result in results:
        shape = wrong_shape(result, expected="result", call="pay()")
        if shape:
            return shape
    charged_first = _charges(ledger, first)
    charged_second = _charges(ledger, second)

    if charged_first > 1:
        return wrong(
            f"paying {first} twice charged it {charged_first} times: each call ran "
            "a new workflow. Without SetWorkflowID, or with a random or time-based "
            "ID, every call gets a new ID. Compute the ID from the invoice, so that "
            "a retry computes the same one."
        )
    if charged_second == 0 and _of_another_invoice(results[2], second):
        return wrong(
            f"{second} was never charged: its call returned {results[2]!r}, the "
            "recorded result of another invoice, because its workflow ID was one already "
            "used. Every invoice needs its own ID: put the invoice ID in the workflow ID."
        )
    if charged_first == 0 and charged_second == 0:
        return wrong("nothing was charged: pay() must run the pay_invoice workflow.")
    if None in results:
        return wrong("the invoices were charged once each, but pay() returned None: "
                     "return the workflow's result.")
    expected = [f"{first}: paid 30", f"{first}: paid 30", f"{second}: paid 45"]
    if results != expected:
        return wrong(f"pay() returned {results}, expected {expected}.")
    return correct(
        "one charge per invoice: the retry got the recorded result of the same "
        "workflow ID."
    )


# --- exercise 2: a deterministic checkout ------------------------------------


@contextmanager
def _random_returns(value: float) -> Iterator[None]:
    saved = random.random
    random.random = lambda: value  # type: ignore[assignment]
    try:
        yield
    finally:
        random.random = saved  # type: ignore[assignment]


def _run(workflow: Callable[[str], str], workflow_id: str, order_id: str) -> str:
    from dbos import DBOS, SetWorkflowID

    with SetWorkflowID(workflow_id):
        handle = DBOS.start_workflow(workflow, order_id)
    return handle.get_result(polling_interval_sec=0.05)


def _check_checkout(checkout: Callable[[str], str]) -> Feedback:
    from dbos import DBOS, error

    token = uuid.uuid4().hex[:6]
    lucky, unlucky = f"order-{token}-lucky", f"order-{token}-unlucky"
    try:
        with _random_returns(0.05):
            first = _run(checkout, f"checkout-{lucky}", lucky)
    except error.DBOSWorkflowFunctionNotFoundError:
        return wrong("checkout is not a workflow: decorate it with @DBOS.workflow().")
    with _random_returns(0.95):
        other = _run(checkout, f"checkout-{unlucky}", unlucky)
    if first != f"{lucky}: coupon" or other != f"{unlucky}: thank you":
        return wrong(
            f"when random.random() returned 0.05 your workflow returned {first!r}, "
            f"and with 0.95 it returned {other!r}. Keep the behaviour: a coupon when "
            "the number drawn with random.random() is below 0.1, a thank-you "
            "otherwise."
        )

    # Replay the lucky run from all its checkpoints while the dice say otherwise.
    steps = DBOS.list_workflow_steps(f"checkout-{lucky}")
    if DBOS.retrieve_queue(CHECK_QUEUE) is None:
        DBOS.register_queue(CHECK_QUEUE, polling_interval_sec=0.05)
    with _random_returns(0.95):
        fork = DBOS.fork_workflow(f"checkout-{lucky}", len(steps) + 1, queue_name=CHECK_QUEUE)
        try:
            replayed = fork.get_result(polling_interval_sec=0.05)
        except error.DBOSUnexpectedStepError as failure:
            wait_for_dbos_log()  # the failed fork's traceback, counted in the verdict
            return wrong(
                "the replay failed with DBOSUnexpectedStepError ("
                f"{failure.inputs[3]} was recorded where {failure.inputs[2]} was "
                "expected): the number is drawn outside a step, so the replay drew "
                "it again and took the other branch. Draw it in a @DBOS.step() and "
                "branch on the step's result."
            )
    if replayed != first:
        return wrong(
            f"the replay returned {replayed!r} instead of {first!r}: the branch "
            "must depend only on a step's recorded result."
        )
    names = Counter(step["function_name"] for step in steps)
    if len(steps) < 2:
        return wrong("the draw should be a step of its own, "
                     "checkpointed before the branch.")
    return correct(
        "the replay took the same branch, because the draw was read back from its "
        f"checkpoint. Steps recorded: {', '.join(names)}."
    )


@checker(needs_dbos=True)
def check_checkout(checkout: Callable[[str], str]) -> Feedback:
    """A replay with different random numbers takes the same branch."""
    kind = wrong_kind_of_function(checkout, expected="sync", name="checkout")
    if kind:
        return kind
    return off_the_event_loop(_check_checkout, checkout)
