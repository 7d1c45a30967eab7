"""Checkers for chapter 9, operating and upgrading workflows.

The first exercise is a prediction (data): check_fork_prediction runs the chapter's pack_order
for real, under an order ID of its own, forks it from step 3, and compares what the fork did with
the prediction. The other two ask for a function that uses DBOS's operations API: an `async def`
with the `_async` calls (the notebook idiom), or a plain `def` with the sync ones (the script
form). The kit runs it on a thread of its own, with a time limit.

The checks add workflows of their own to the learner's application when they run, never at
import, and the exercises say so: check_rerun_from_failed_step registers
`ch09-check-settle-invoice` and `ch09-check-book-room` (and their steps), check_safe_to_retire
`ch09-check-waiter`. Registering them again when a check is re-run is harmless.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace

from ..exercises import Feedback, checker, correct, off_the_event_loop, wait_for_workflow, wrong
from ..ledger import read_ledger

GUEST_WAIT_SEC = 2  # how long the booking waits for the guest's answer
FORK_WAIT_SEC = 15  # how long a fork may take: the internal queue, and that wait


# --- exercise 0: predict what a fork runs, and what it lists ------------------------------

FORK_FROM = 3  # the exercise's start step: print_label, after pick_items and DBOS.sleep


def _fork_for_real(pack_order, ledger: str | Path) -> tuple[list[str], list[str]]:
    """Run pack_order under an ID of the check's own, fork it from step 3; the first words of the
    ledger lines the fork added, and the function_name of each step the fork lists."""
    from dbos import DBOS, SetWorkflowID

    order_id = f"pack-check-{uuid.uuid4().hex[:8]}"
    with SetWorkflowID(order_id):
        pack_order(order_id)
    before = len(read_ledger(ledger))
    with SetWorkflowID(f"{order_id}-again"):
        fork = DBOS.fork_workflow(order_id, FORK_FROM)
    fork.get_result(polling_interval_sec=0.05)
    added = [line.split()[0] for line in read_ledger(ledger)[before:]
             if line.endswith(f" {order_id}")]
    steps = [s["function_name"].split("<locals>.")[-1]  # a step defined in a function
             for s in DBOS.list_workflow_steps(f"{order_id}-again")]
    return added, steps


def _names(value) -> list[str] | None:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        return None
    return [v.strip() for v in value]


@checker(needs_dbos=True)
def check_fork_prediction(predicted, pack_order, ledger: str | Path) -> Feedback:
    """Run pack_order and its fork from step 3 for real, on a thread of their own; compare the
    ledger lines the fork adds and the fork's step list with the prediction."""
    if not isinstance(predicted, dict) or set(predicted) != {"ledger", "fork_steps"}:
        return wrong('predicted should be a dict with two keys, "ledger" and "fork_steps", '
                     "as in the starter.")
    said_ledger, said_steps = _names(predicted["ledger"]), _names(predicted["fork_steps"])
    if said_ledger is None or said_steps is None:
        return wrong('each of "ledger" and "fork_steps" is a list of str, such as '
                     '["pick_items"].')
    ran, listed = off_the_event_loop(_fork_for_real, pack_order, ledger, timeout=60)
    if said_ledger == ran and said_steps == listed:
        return correct(
            f"the fork ran {ran}: the workflow's own code from its first line, then the steps "
            f"from step {FORK_FROM} on; its step list shows {listed}, steps 1 and 2 copied from "
            "the original (pick_items returned its recorded 3, the sleep did not wait again)."
        )
    mistakes = [mistake for mistake in (_ledger_mistake(said_ledger, ran),
                                        _steps_mistake(said_steps, listed)) if mistake]
    return wrong(" And in fork_steps: ".join(mistakes))  # both fields judged, each on its own


def _ledger_mistake(said_ledger: list[str], ran: list[str]) -> str | None:
    if said_ledger == ran:
        return None
    own_code = ran[0] if ran else "pack_order"
    said_steps_run = [name for name in said_ledger if name != own_code]
    if "pick_items" in said_ledger:
        return ("pick_items did not run again. A fork copies the original's checkpoints of the "
                f"steps before its start step (steps 1 and 2 here) into the new workflow: "
                "pick_items returned its recorded result, 3, without running.")
    if said_steps_run == ["call_courier"]:
        return ("print_label ran again too: it is step 3. DBOS.sleep is recorded as a step, so "
                "it takes a number (step 2), and a fork's start step is the first step that "
                "runs, not the last one copied. Read the numbers with list_workflow_steps.")
    if own_code not in said_ledger and said_steps_run == ran[1:]:
        return (f"{own_code} wrote its line again. A fork runs the workflow function from its "
                "first line; what it copies is the results of the steps before the start step, "
                "not the code between steps, which nothing records. Code outside steps runs on "
                "every execution, a fork's and a recovery's alike: keep side effects in steps.")
    return (f"the fork added these lines, by first word: {ran}. Compare them with "
            "yours: what runs again, and from which line of pack_order?")


def _steps_mistake(said_steps: list[str], listed: list[str]) -> str | None:
    if said_steps == listed:
        return None
    if said_steps == [name for name in listed if name in ("print_label", "call_courier")]:
        return ("the fork's step list has its copied steps too: fork_workflow copies the "
                f"original's checkpoints of the steps before step {FORK_FROM} into the new "
                "workflow, so list_workflow_steps shows them, with the original's outputs, "
                "before the steps that ran.")
    if "DBOS.sleep" not in said_steps:
        return ("DBOS.sleep is recorded as a step (chapter 5): it has a function_id, step 2, "
                "and the fork's list shows it, copied.")
    if "pack_order" in said_steps:
        return ("the workflow is not one of its own steps: list_workflow_steps lists what "
                "the workflow recorded inside it.")
    return (f"the fork lists these steps: {listed}. Compare them with yours, step by "
            "step.")


# --- exercise 1: fork a failed workflow from the right step ------------------------------


def _exercise_workflows() -> SimpleNamespace:
    """The two workflows the check fails, registered in the running application now."""
    from dbos import DBOS

    bugs = {"receipt": True, "nights": True}
    taken: list[str] = []  # one entry per payment or room hold, across all runs

    @DBOS.step(name="ch09-check-look-up-invoice")
    def look_up_invoice(invoice_id: str) -> dict:
        return {"invoice": invoice_id, "amount": 120}

    @DBOS.step(name="ch09-check-take-payment")
    def take_payment(invoice_id: str, amount: int) -> str:
        taken.append(invoice_id)
        return f"paid {amount}"

    @DBOS.step(name="ch09-check-send-receipt")
    def send_receipt(invoice_id: str) -> str:
        if bugs["receipt"]:
            raise RuntimeError("receipt template missing")
        return f"receipt sent for {invoice_id}"

    @DBOS.workflow(name="ch09-check-settle-invoice")
    def settle_invoice(invoice_id: str) -> str:
        invoice = look_up_invoice(invoice_id)
        take_payment(invoice_id, invoice["amount"])
        return send_receipt(invoice_id)

    @DBOS.step(name="ch09-check-hold-room")
    def hold_room(booking_id: str) -> str:
        taken.append(booking_id)
        return f"room held for {booking_id}"

    @DBOS.step(name="ch09-check-confirm-booking")
    def confirm_booking(booking_id: str, nights: int) -> str:
        return f"{booking_id}: {nights} nights confirmed"

    @DBOS.workflow(name="ch09-check-book-room")
    def book_room(booking_id: str) -> str:
        hold_room(booking_id)
        answer = DBOS.recv("guest-answer", timeout_seconds=GUEST_WAIT_SEC)
        if answer is None:
            raise TimeoutError("the guest never answered")
        text = answer["nights"]  # such as "3 nights"
        nights = int(text) if bugs["nights"] else int(text.split()[0])  # the bug: int(text)
        return confirm_booking(booking_id, nights)

    return SimpleNamespace(bugs=bugs, taken=taken, settle_invoice=settle_invoice,
                           book_room=book_room)


def _fail(workflows: SimpleNamespace, kind: str) -> str:
    """Run one workflow until it fails (its bug present); return its ID."""
    from dbos import DBOS, SetWorkflowID

    workflow_id = f"ex-{kind}-{uuid.uuid4().hex[:8]}"
    with SetWorkflowID(workflow_id):
        if kind == "invoice":
            handle = DBOS.start_workflow(workflows.settle_invoice, workflow_id)
        else:
            handle = DBOS.start_workflow(workflows.book_room, workflow_id)
            DBOS.send(workflow_id, {"nights": "3 nights"}, "guest-answer")  # once, as guests do
    try:
        handle.get_result(polling_interval_sec=0.05)
    except Exception:
        pass  # the failure the exercise starts from
    return workflow_id


def _raised_on_no_failed_step(exc: BaseException) -> bool:
    # next() on an empty generator raises StopIteration; inside a coroutine Python turns it
    # into RuntimeError("coroutine raised StopIteration").
    return isinstance(exc, StopIteration) or "StopIteration" in str(exc)


def _judge_fork(rerun_from_failed_step, workflows, kind: str) -> Feedback | None:
    """Fail one workflow, fix its bug, call the learner's function; None if the fork is right."""
    from dbos import DBOS

    failed_id = off_the_event_loop(_fail, workflows, kind)
    workflows.bugs["receipt" if kind == "invoice" else "nights"] = False  # the fix
    try:
        new_id = off_the_event_loop(rerun_from_failed_step, failed_id, timeout=30)
    except Exception as exc:
        if kind == "booking" and _raised_on_no_failed_step(exc):
            return wrong(
                "for the booking your function raised StopIteration: next() found no step with "
                "an error. The booking failed in the workflow's own code, after its last "
                "recorded step (the guest's answer), and code between steps records nothing. "
                "Fork from the "
                "step after the last recorded one: that copies every checkpoint, the answer "
                "included, and runs the fixed code from there."
            )
        raise
    forks = off_the_event_loop(DBOS.list_workflows, forked_from=failed_id)
    if new_id is None and not forks:
        return wrong("your function returned None and forked nothing: fork the workflow, "
                     "and return the new workflow's ID.")
    if new_id is None:
        return wrong("you forked the workflow, but did not return the new workflow's ID.")
    if not isinstance(new_id, str):
        return wrong(f"return the new workflow's ID (a str, handle.get_workflow_id()), not "
                     f"{type(new_id).__name__} {new_id!r}.")
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
    run = wait_for_workflow(new_id, FORK_WAIT_SEC)
    if not run.finished:
        return wrong(
            f"the fork did not finish within {FORK_WAIT_SEC} s. Did you give it an "
            "application_version that no process runs? Leave that argument out."
        )
    taken = workflows.taken.count(failed_id)
    if taken > 1 and kind == "invoice":
        return wrong(
            f"the payment was taken {taken} times: the fork started at or before the payment "
            "step (step 2), so it ran that step again. Start at the step that failed, the "
            "first one whose 'error' is set, and pass its function_id: the numbers start at 1, "
            "so a position in the list (enumerate starts at 0) is one step too early."
        )
    if taken > 1:
        return wrong(
            f"the room was held {taken} times: the fork started at the first step, so it ran "
            "hold_room again. Start after the last recorded step."
        )
    fork_steps = off_the_event_loop(DBOS.list_workflow_steps, new_id)
    received = [s for s in fork_steps if s["function_name"] == "DBOS.recv"]
    if kind == "booking" and received and received[0]["output"] is None:
        return wrong(
            "the fork waited for the guest's answer again and got nothing: it started at the "
            f"recv (step {received[0]['function_id']}), or before it, so it called recv anew, "
            "and the guest answers once. recv and its timeout are recorded as steps too "
            "(DBOS.recv, DBOS.sleep): fork from after them, and the fork copies the answer."
        )
    if run.status != "SUCCESS":
        if kind == "invoice":
            return wrong(
                "the fork failed again with the recorded error: it started after the step "
                "that failed, so it copied that step's failure from the original. Start at "
                "the failed step itself."
            )
        return wrong(f"the fork of the booking ended {run.status}: {run.error!r}.")
    if new_id != f"{failed_id}-rerun":
        return wrong(
            "the fork ran correctly, but under a generated ID. Name it: wrap the call in "
            'with SetWorkflowID(f"{workflow_id}-rerun").'
        )
    return None


@checker(needs_dbos=True)
def check_rerun_from_failed_step(rerun_from_failed_step) -> Feedback:
    """An invoice that fails in its third step, then a booking that fails in the workflow's own
    code after receiving the guest's answer; each is fixed, then forked by the learner's code."""
    for kind in ("invoice", "booking"):
        problem = _judge_fork(rerun_from_failed_step, _exercise_workflows(), kind)
        if problem is not None:
            return problem
    return correct(
        "the invoice's fork copied the look-up and the payment and ran only the failed step; "
        "the booking's fork copied the room hold and the guest's answer (recv is recorded) and "
        "ran the fixed code after them. Nothing was taken twice."
    )


# --- exercise 2: is an old version safe to retire? ---------------------------------------

OTHER_APP = "ch09-exercise-warehouse"
PARKED_QUEUE = "ch09-exercise-parked"  # nobody polls it: what is put there stays
UNFINISHED = ("PENDING", "ENQUEUED", "DELAYED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED")


def _waiter():
    from dbos import DBOS

    @DBOS.workflow(name="ch09-check-waiter")
    def waiter() -> str:
        DBOS.recv("go", timeout_seconds=30)
        return "done"

    return waiter


def _park(version: str, owner: str | None, **options) -> str:
    """Enqueue a workflow that will sit on a queue nobody polls."""
    from dbos import DBOS

    enqueue = {
        "workflow_name": "ch09-exercise-noop",
        "queue_name": PARKED_QUEUE,
        "app_version": version,
        **options,
    }
    if owner is not None:
        enqueue["application_name"] = owner
    return DBOS.enqueue_workflow_with_options(enqueue).get_workflow_id()


def _dead_letter(system_database_url: str, workflow_id: str) -> None:
    """Park a workflow in MAX_RECOVERY_ATTEMPTS_EXCEEDED, as DBOS does after too many recoveries
    (DBOS 3.4's dead_letter_workflows: the status, and off its queue). A crash loop would take
    a process killed several times; the check writes the row DBOS would write."""
    import sqlalchemy as sa

    table = "workflow_status" if system_database_url.startswith("sqlite") else \
        "dbos.workflow_status"
    engine = sa.create_engine(system_database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(f"UPDATE {table} SET status = 'MAX_RECOVERY_ATTEMPTS_EXCEEDED', "
                        "queue_name = NULL WHERE workflow_uuid = :id"),
                {"id": workflow_id},
            )
    finally:
        engine.dispose()


def _ask(safe_to_retire, system_database_url: str) -> dict:
    from dbos import DBOS, SetWorkflowID

    tag = uuid.uuid4().hex[:6]
    enqueued = _park(f"w1-{tag}", OTHER_APP)
    delayed = _park(f"w2-{tag}", OTHER_APP, delay_seconds=3600)
    cancelled = _park(f"w3-{tag}", OTHER_APP)
    DBOS.cancel_workflow(cancelled)
    parked = _park(f"w5-{tag}", OTHER_APP)
    _dead_letter(system_database_url, parked)
    own_enqueued = _park(f"own-{tag}", None)
    with SetWorkflowID(f"ex-waiter-{tag}"):
        waiter = DBOS.start_workflow(_waiter())
    running = DBOS.get_workflow_status(waiter.get_workflow_id())

    scenarios = {  # name: (application, version)
        "enqueued": (OTHER_APP, f"w1-{tag}"),
        "delayed": (OTHER_APP, f"w2-{tag}"),
        "cancelled": (OTHER_APP, f"w3-{tag}"),
        "empty": (OTHER_APP, f"w4-{tag}"),
        "dead_letter": (OTHER_APP, f"w5-{tag}"),
        "pending": (running.application_name, running.app_version),
        "own_enqueued": (running.application_name, f"own-{tag}"),
    }
    try:
        return {name: off_the_event_loop(safe_to_retire, app, version, timeout=30)
                for name, (app, version) in scenarios.items()}
    finally:
        DBOS.send(waiter.get_workflow_id(), "release", "go")
        waiter.get_result(polling_interval_sec=0.05)
        DBOS.cancel_workflows([enqueued, delayed, own_enqueued, parked])


@checker(needs_dbos=True)
def check_safe_to_retire(safe_to_retire, system_database_url: str) -> Feedback:
    """Workflows of other versions in every state, one of them parked in
    MAX_RECOVERY_ATTEMPTS_EXCEEDED; ask the learner's function about each version."""
    answers = off_the_event_loop(_ask, safe_to_retire, system_database_url, timeout=240)
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
            "app_version=version, and count only the statuses of unfinished work "
            f"({', '.join(UNFINISHED)})."
        )
    if answers["dead_letter"]:
        return wrong(
            "you answered True for a version with a workflow parked in "
            "MAX_RECOVERY_ATTEMPTS_EXCEEDED. Nothing recovers it, but it waits for a human to "
            "resume it (chapter 2), and resume_workflow keeps its application version: once the "
            "version's servers are gone, a resumed workflow waits on its queue forever. Count "
            "MAX_RECOVERY_ATTEMPTS_EXCEEDED as unfinished: resume it (or cancel it) first."
        )
    if not answers["cancelled"]:
        return wrong(
            "a version whose workflows were all cancelled (or ended in SUCCESS or ERROR) is safe "
            "to retire: CANCELLED is a decision already taken. Count only "
            f"{', '.join(UNFINISHED)}."
        )
    if not answers["empty"]:
        return wrong("a version with no workflows at all is safe to retire.")
    return correct(
        "PENDING, ENQUEUED and DELAYED workflows of that application and version block the "
        "retirement, and so does one parked in MAX_RECOVERY_ATTEMPTS_EXCEEDED, which only a "
        "process of its version can run once resumed; CANCELLED and finished ones do not."
    )
