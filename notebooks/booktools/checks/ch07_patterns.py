"""Checkers for chapter 7, Patterns.

Each checker runs the learner's code for real, against the DBOS instance the notebook launched,
with the kit in booktools.exercises: learner code runs on a thread of its own (as a web server or
a start-up script runs it), with a time limit. The checkers register nothing: the exercises'
workflows and steps are the notebook's own, passed in.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from ..exercises import (
    Feedback, checker, correct, off_the_event_loop, wrong, wrong_kind_of_function, wrong_shape,
)
from ..ledger import read_ledger


def _workflow_name(workflow: Callable[..., Any]) -> str | None:
    return getattr(workflow, "dbos_function_name", None)


# --- exercise 1: an idempotent webhook receiver that tells duplicates apart --------------


async def _deliver(receive_webhook, event: dict, copies: int) -> list[Any]:
    """`copies` deliveries of one event at the same moment, each on a web server thread of its
    own, then one more after; what each returned, or the exception it raised."""
    answers = await asyncio.gather(
        *(asyncio.to_thread(receive_webhook, dict(event)) for _ in range(copies)),
        return_exceptions=True,
    )
    late = await asyncio.gather(asyncio.to_thread(receive_webhook, dict(event)),
                                return_exceptions=True)
    return list(answers) + late


def _runs_for(workflow_name: str, event_id: str) -> list[Any]:
    from dbos import DBOS

    return [
        run for run in DBOS.list_workflows(name=workflow_name)
        if run.input and run.input.get("args") and isinstance(run.input["args"][0], dict)
        and run.input["args"][0].get("id") == event_id
    ]


def _judge_answers(answers: list[Any], output: Any, deliveries: str) -> Feedback | None:
    """Feedback on the shape of what the deliveries of one event returned, or None."""
    from dbos import error

    for answer in answers:
        if isinstance(answer, error.DBOSWorkflowIDInUseError):
            return wrong(
                f"a duplicate delivery raised DBOSWorkflowIDInUseError: {answer}. With "
                "workflow_id_reuse_policy='reject' a duplicate raises instead of attaching to "
                "the run: catch dbos.error.DBOSWorkflowIDInUseError, and answer the duplicate "
                "with the existing run's result (DBOS.retrieve_workflow(workflow_id))."
            )
        if isinstance(answer, BaseException):
            return wrong(f"{deliveries} raised {type(answer).__name__}: {answer}")
        shape = wrong_shape(answer, expected="result", call="receive_webhook(event)")
        if shape is not None:
            return shape
        if not isinstance(answer, dict) or set(answer) != {"status", "result"}:
            return wrong(
                f"receive_webhook returned {answer!r}: return a dict with two keys, "
                "{'status': 'applied' or 'duplicate', 'result': apply_payment's result}."
            )
        if answer["result"] != output:
            return wrong(
                f"a delivery answered with the result {answer['result']!r}, but apply_payment "
                f"returned {output!r}: every delivery, duplicate or not, answers with the run's "
                "result (wait for it with .get_result())."
            )
    return None


@checker(needs_dbos=True)
def check_receive_webhook(receive_webhook, apply_payment) -> Feedback:
    """Deliver one event four times (three at once, one late), then a second event for the same
    order; count the runs and read the answers."""
    kind = wrong_kind_of_function(receive_webhook, expected="sync", name="receive_webhook")
    if kind is not None:
        return kind
    name = _workflow_name(apply_payment)
    if name is None:
        return wrong("apply_payment is not a DBOS workflow: run the cell that defines it first.")
    token = uuid.uuid4().hex[:8]
    order = f"C-{token}"
    first = {"id": f"evt_{token}_1", "type": "payment.succeeded", "order": order, "amount": 45}
    second = {"id": f"evt_{token}_2", "type": "payment.succeeded", "order": order, "amount": 5}

    answers = off_the_event_loop(_deliver, receive_webhook, first, 3, timeout=30)
    runs = off_the_event_loop(_runs_for, name, first["id"])
    raised = [answer for answer in answers if isinstance(answer, BaseException)]
    if not runs and raised:
        return wrong(
            f"no delivery ran apply_payment: receive_webhook raised "
            f"{type(raised[0]).__name__}: {raised[0]}"
        )
    if not runs:
        return wrong(
            "apply_payment never ran with the delivered event: receive_webhook must start it, "
            "with DBOS.start_workflow(apply_payment, event)."
        )
    if len(runs) > 1:
        return wrong(
            f"one event, delivered four times, ran apply_payment {len(runs)} times: each "
            "delivery started a new workflow. Name the workflow after the event, with "
            "SetWorkflowID(...) around the start, so every delivery finds the same one."
        )
    [answer_to_second] = off_the_event_loop(_deliver, receive_webhook, second, 0, timeout=30)
    second_runs = off_the_event_loop(_runs_for, name, second["id"])
    if not second_runs:
        return wrong(
            "the second event for the same order was never applied: its delivery was taken "
            "for a duplicate of the first. Derive the ID from event['id'], not from the order."
        )
    problem = _judge_answers(answers, runs[0].output, "a delivery of the event") or \
        _judge_answers([answer_to_second], second_runs[0].output, "the second event's delivery")
    if problem is not None:
        return problem
    statuses = [answer["status"] for answer in answers]
    if answer_to_second["status"] != "applied":
        return wrong(
            f"the first delivery of a new event was answered {answer_to_second['status']!r}: "
            "it started the run, so it is 'applied'."
        )
    if statuses.count("applied") == len(statuses):
        return wrong(
            "every delivery of one event answered 'applied', duplicates too: with the default "
            "policy, SetWorkflowID attaches a duplicate to the existing run without a word. "
            "Start with SetWorkflowID(..., workflow_id_reuse_policy='reject'), which raises "
            "DBOSWorkflowIDInUseError for a duplicate."
        )
    if statuses.count("applied") > 1:
        return wrong(
            f"{statuses.count('applied')} of the deliveries that arrived at the same moment "
            "answered 'applied' although one run applied the event: did you look for the "
            "workflow before starting it? Between the look and the start another delivery can "
            "start it. Let the start itself decide: workflow_id_reuse_policy='reject' raises "
            "for every delivery but the one that created the workflow."
        )
    if statuses.count("applied") == 0 or statuses[-1] != "duplicate":
        return wrong(
            f"the four deliveries answered {statuses}: exactly one (the one that started the "
            "run) should be 'applied', and the late one 'duplicate'."
        )
    return correct(
        "four deliveries of one event ran apply_payment once: one answered 'applied', the three "
        "duplicates (two of them at the same moment) 'duplicate', all with the run's result; "
        "a second event for the same order was applied on its own."
    )


# --- exercise 2: a digest every weekday morning ------------------------------------------

SCHEDULE_NAME = "support-digest"
PARIS = ZoneInfo("Europe/Paris")
# A winter week and a summer week (Paris is UTC+1, then UTC+2), Monday to Sunday.
WEEKS = [datetime(2026, 1, 5, tzinfo=timezone.utc), datetime(2026, 7, 6, tzinfo=timezone.utc)]
INVALID_CRON = re.compile(r"Invalid cron schedule: '([^']*)'")


def _fire_times(cron: str, cron_timezone: str | None) -> list[datetime]:
    """Every due time of the schedule in the two test weeks, in UTC (as DBOS computes them)."""
    from croniter import croniter

    zone = ZoneInfo(cron_timezone) if cron_timezone else timezone.utc
    times: list[datetime] = []
    for monday in WEEKS:
        it = croniter(cron, monday.astimezone(zone) - timedelta(seconds=1),
                      second_at_beginning=True)
        while True:
            due = it.get_next(datetime)
            if due >= monday + timedelta(days=7) or len(times) > 5000:
                break
            times.append(due.astimezone(timezone.utc))
    return times


def _wanted_times() -> list[datetime]:
    times = []
    for monday in WEEKS:
        for day in range(5):
            date = (monday + timedelta(days=day)).date()
            local = datetime(date.year, date.month, date.day, 7, 30, tzinfo=PARIS)
            times.append(local.astimezone(timezone.utc))
    return times


def _in_paris(time: datetime) -> str:
    return time.astimezone(PARIS).strftime("%a %d %b %Y at %H:%M")


def _describe(times: list[datetime]) -> str:
    """The first due times, as Paris clock times."""
    shown = [t.astimezone(PARIS).strftime("%a %H:%M") for t in times[:3]]
    return ", ".join(shown) + (", ..." if len(times) > 3 else "")


def _refused_cron(exc: BaseException) -> Feedback | None:
    found = INVALID_CRON.search(str(exc))
    if found is None:
        return None
    return wrong(
        f"DBOS refused the cron string {found.group(1)!r} ({type(exc).__name__}: invalid cron "
        "schedule), so no schedule was installed. With five fields they are minute (0-59), "
        "hour (0-23), day of month, month and day of week; with six, seconds come first. "
        "07:30 is minute 30 of hour 7."
    )


def _install(install_digest_schedule) -> Any:
    return off_the_event_loop(install_digest_schedule, timeout=30)


@checker(needs_dbos=True)
def check_install_digest_schedule(install_digest_schedule, send_digest) -> Feedback:
    """Install twice, then compare the schedule's due times with 07:30 Paris, Mon-Fri, in a
    winter week and a summer week."""
    from dbos import DBOS

    off_the_event_loop(DBOS.delete_schedule, SCHEDULE_NAME)  # start from no schedule
    try:
        _install(install_digest_schedule)
    except Exception as exc:
        refused = _refused_cron(exc)
        if refused is None:
            raise
        return refused
    schedule = off_the_event_loop(DBOS.get_schedule, SCHEDULE_NAME)
    if schedule is None:
        others = [s["schedule_name"] for s in off_the_event_loop(DBOS.list_schedules)]
        return wrong(
            f"there is no schedule named {SCHEDULE_NAME!r} (schedules found: {others}). "
            "Use schedule_name='support-digest'."
        )
    try:
        _install(install_digest_schedule)
    except Exception as exc:
        if "already exists" in str(exc):
            return wrong(
                "the second start-up failed: create_schedule refuses a name that exists, "
                "and install_digest_schedule runs at every start. Use DBOS.apply_schedules, "
                "which creates or replaces the schedule by name."
            )
        raise
    if schedule["workflow_name"] != _workflow_name(send_digest):
        return wrong(
            f"the schedule runs {schedule['workflow_name']!r}; it should run send_digest.")
    if schedule["context"] != {"team": "support"}:
        return wrong(
            f"the schedule's context is {schedule['context']!r}; send_digest reads "
            "context['team'], so pass context={'team': 'support'}."
        )
    cron, zone = schedule["schedule"], schedule["cron_timezone"]
    got = _fire_times(cron, zone)
    wanted = _wanted_times()
    if got == wanted:
        return correct(
            f"{cron!r} in {zone} fires Monday to Friday at 07:30 Paris time, summer and "
            "winter, and a second start-up replaces the schedule instead of failing."
        )
    if zone in (None, "UTC", "Etc/UTC") and _fire_times(cron, "Europe/Paris") == wanted:
        return wrong(
            f"{cron!r} is right, but it is read in UTC: the digest would arrive at 08:30 "
            "in Paris in winter and 09:30 in summer. Set cron_timezone='Europe/Paris'."
        )
    winter = [t for t in got if t < WEEKS[1]]
    summer = [t for t in got if t >= WEEKS[1]]
    if winter == wanted[:5] and summer != wanted[5:]:
        shown = summer[0] if summer else None
        return wrong(
            f"{cron!r} in {zone or 'UTC'} is right in winter only: Paris moves to summer time "
            "(UTC+2) in March, and the schedule does not move with it"
            + (f": on {shown.astimezone(PARIS):%a %d %b %Y} it fires at "
               f"{shown.astimezone(PARIS):%H:%M} Paris time" if shown else "")
            + ". Write the Paris time (30 7) and set cron_timezone='Europe/Paris', and DBOS "
            "follows the clock change."
        )
    local = [t.astimezone(PARIS) for t in got]
    if any(t.weekday() >= 5 for t in local):
        return wrong(
            f"{cron!r} also fires at weekends: the fifth field (day of week) should be 1-5."
        )
    first_day = WEEKS[0].astimezone(PARIS).date()
    on_first_day = sum(1 for t in local if t.date() == first_day)
    if on_first_day > 1:
        return wrong(
            f"{cron!r} fires {on_first_day} times a day ({_describe(got)}): with five "
            "fields the first is the minute (30) and the second the hour (7)."
        )
    mismatch = next((g for g, w in zip(got, wanted) if g != w), got[len(wanted)] if
                    len(got) > len(wanted) else None)
    where = f" (on {_in_paris(mismatch)}, Paris time)" if mismatch else ""
    return wrong(
        f"{cron!r} (time zone {zone or 'UTC'}) fires at {_describe(got)}{where}; the team "
        "wants Monday to Friday at 07:30, Paris time, summer and winter."
    )


# --- exercise 3: ship an order, or undo it -----------------------------------------------

STEPS = ["reserve_stock", "charge_customer", "book_courier"]
COMPENSATIONS = ("release_stock", "refund_customer")


def _scenarios(token: str) -> list[tuple[str, dict, list[str], bool]]:
    """(what fails, order, expected ledger, expected to ship)."""
    base = {"item": "kettle", "card": "ok", "postcode": "75001"}
    return [
        ("nothing failed", {**base, "id": f"S-{token}-1"}, STEPS, True),
        ("the courier was busy for two attempts", {**base, "id": f"S-{token}-2", "busy": 2},
         STEPS, True),
        ("charge_customer failed", {**base, "id": f"S-{token}-3", "card": "declined"},
         ["reserve_stock", "release_stock"], False),
        ("reserve_stock failed", {**base, "id": f"S-{token}-4", "item": "sold out"}, [], False),
        ("book_courier failed for good", {**base, "id": f"S-{token}-5", "postcode": "00000"},
         ["reserve_stock", "charge_customer", "refund_customer", "release_stock"], False),
    ]


def _ship(ship_order, order: dict) -> tuple[Any, BaseException | None]:
    try:
        return ship_order(order), None
    except Exception as error:  # noqa: BLE001 - reported as feedback
        return None, error


@checker(needs_dbos=True)
def check_ship_order(ship_order, ledger: str | Path) -> Feedback:
    """Ship five orders (one fine, one whose courier is busy for a moment, three failing at each
    step in turn) and compare the ledger."""
    from dbos import error as dbos_error

    kind = wrong_kind_of_function(ship_order, expected="sync", name="ship_order")
    if kind is not None:
        return kind
    if _workflow_name(ship_order) is None:
        return wrong("ship_order is not a workflow yet: decorate it with @DBOS.workflow().")
    token = uuid.uuid4().hex[:8]

    def lines_for(order: dict) -> list[str]:
        prefix = order["id"] + " "
        return [line[len(prefix):] for line in read_ledger(ledger) if line.startswith(prefix)]

    for fails, order, expected, ships in _scenarios(token):
        result, error = off_the_event_loop(_ship, ship_order, order, timeout=30)
        got = lines_for(order)
        if isinstance(error, dbos_error.DBOSMaxStepRetriesExceeded) and got != expected:
            return wrong(
                f"when {fails}, ship_order raised DBOSMaxStepRetriesExceeded "
                f"(the ledger shows {got}). book_courier has retries: after its last attempt "
                "DBOS raises DBOSMaxStepRetriesExceeded instead of your ShippingFailed. Catch "
                "dbos.error.DBOSMaxStepRetriesExceeded too, and undo the finished steps."
            )
        if error is not None and got == expected:
            return wrong(
                f"when {fails} you undid the right steps, but ship_order then raised "
                f"{type(error).__name__}: {error}. Catch the failure and return "
                "'cancelled: <the failure>'."
            )
        if error is not None:
            return wrong(
                f"when {fails}, ship_order raised {type(error).__name__}: {error}, "
                f"and the ledger shows {got}. Catch ShippingFailed and undo the steps "
                "that had finished, in reverse order."
            )
        if got == expected:
            if ships and result != "shipped":
                return wrong(
                    f"the order shipped ({fails}), but ship_order returned "
                    f"{result!r}, not 'shipped'."
                )
            if not ships and not str(result).startswith("cancelled"):
                return wrong(
                    f"when {fails} the ledger is right, but ship_order returned "
                    f"{result!r}; return 'cancelled: <the failure>'."
                )
            continue
        if ships:
            extra = (": DBOS retries a busy courier (book_courier has retries), so there "
                     "is nothing to undo" if "busy" in fails else "")
            return wrong(
                f"when {fails}, the order should run {STEPS} in order{extra}; "
                f"the ledger shows {got}."
            )
        undone = [line for line in got if line in COMPENSATIONS]
        expected_undo = [line for line in expected if line in COMPENSATIONS]
        if "refund_customer" in got and "charge_customer" not in got:
            return wrong(
                f"when {fails} you refunded a charge that never happened: add a "
                "compensation to the list only after its step has succeeded."
            )
        if "release_stock" in got and "reserve_stock" not in got:
            return wrong(
                "when reserve_stock failed you released stock that was never reserved: add a "
                "compensation to the list only after its step has succeeded."
            )
        if sorted(undone) == sorted(expected_undo) and undone != expected_undo:
            return wrong(
                f"when {fails} you undid the right steps in the wrong order ({undone}): "
                "undo in reverse, the last step done first (reversed(compensations))."
            )
        if not undone:
            return wrong(
                f"when {fails} nothing was undone (ledger: {got}): run the compensations "
                "of the steps that had finished."
            )
        return wrong(f"when {fails} the ledger shows {got}; it should show {expected}.")
    return correct(
        "the order ships when nothing fails and when the courier is busy for a moment (DBOS "
        "retries it), and a failure at each step, the courier's DBOSMaxStepRetriesExceeded "
        "included, undoes exactly the steps that had finished, last first."
    )


# --- exercise 0: predict the ledger ------------------------------------------------------

PREDICTED_CALLS = [  # (handler, customer or None, order number, amount), as the exercise lists
    ("by_customer", "ada", "A-2001", 10),
    ("by_customer", "bob", "A-2002", 20),
    ("by_order", None, "A-2002", 20),
    ("by_order", None, "A-2001", 10),
]


def _run_the_calls(by_customer, by_order, ledger: str | Path, token: str) -> list[str]:
    """The exercise's four calls, with order numbers (and bob) of the check's own, so that each
    check runs them afresh; the lines they add to the ledger, with the exercise's names."""
    before = len(read_ledger(ledger))
    for handler, customer, order, amount in PREDICTED_CALLS:
        if handler == "by_customer":
            # ada keeps her name: her key, pay-ada, is the one the chapter used above
            who = customer if customer == "ada" else f"{customer}-{token}"
            by_customer(who, f"{order}-{token}", amount)
        else:
            by_order(f"{order}-{token}", amount)
    return [line.replace(f"-{token}", "") for line in read_ledger(ledger)[before:]]


@checker(needs_dbos=True)
def check_ledger_prediction(predicted_lines, by_customer, by_order,
                            ledger: str | Path) -> Feedback:
    """Run the four calls for real (on a thread of their own, as request handlers) and compare
    the lines they add to the ledger with the prediction."""
    if not isinstance(predicted_lines, list) or not all(
            isinstance(line, str) for line in predicted_lines):
        return wrong("predicted_lines should be a list of ledger lines (strings), in order, "
                     "such as ['charged 10 EUR for A-2001'].")
    token = uuid.uuid4().hex[:8]
    real = off_the_event_loop(_run_the_calls, by_customer, by_order, ledger, token, timeout=60)
    predicted = [line.strip() for line in predicted_lines]
    if predicted == real:
        return correct(
            f"the four calls added {len(real)} lines, as you said: ada's order ran nothing (her "
            "key pay-ada already named her first order's payment), and A-2002 was charged twice, "
            "once per workflow ID (pay-bob and pay-A-2002)."
        )
    if any("A-2001" in line for line in predicted[:1]) and not real[:1] == predicted[:1]:
        return wrong(
            "ada's request (the first call) charged nothing: handle_pay_request_by_customer "
            "keys the payment by customer, pay-ada, and that workflow exists since the section "
            "'Choosing the key'. The call returned its recorded result, her first order's."
        )
    if predicted.count("charged 20 EUR for A-2002") < 2:
        return wrong(
            "A-2002 was charged twice: once by the customer's handler (workflow ID pay-bob) and "
            "once by the order's handler (pay-A-2002). Two IDs name two pieces of work, so DBOS "
            "ran both, whatever they do."
        )
    return wrong(f"the four calls added these lines: {real}. Compare them with yours, call by "
                 "call, by the workflow ID each handler uses.")
