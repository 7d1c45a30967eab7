"""Checkers for chapter 7, Patterns.

Each checker runs the learner's code for real, against the DBOS instance the
notebook launched. DBOS's sync API refuses to run inside Jupyter's event loop,
so the checkers call the learner's code (and read DBOS's state) on a worker
thread, as a web server or a start-up script would.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from ..exercises import Feedback, checker, correct, todo, wrong
from ..ledger import read_ledger


def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result(timeout=60)


def _workflow_name(workflow: Callable[..., Any]) -> str | None:
    return getattr(workflow, "dbos_function_name", None)


# --- exercise 1: an idempotent webhook receiver --------------------------------


def _deliver(receive_webhook, event: dict, copies: int) -> list[Any]:
    """`copies` deliveries of one event at the same moment, then one more after."""
    with ThreadPoolExecutor(max_workers=copies) as server:
        answers = list(server.map(lambda _: receive_webhook(dict(event)), range(copies)))
    answers.append(receive_webhook(dict(event)))
    return answers


def _runs_for(workflow_name: str, event_id: str) -> int:
    from dbos import DBOS

    runs = DBOS.list_workflows(name=workflow_name)
    return sum(
        1
        for run in runs
        if run.input
        and run.input.get("args")
        and isinstance(run.input["args"][0], dict)
        and run.input["args"][0].get("id") == event_id
    )


@checker
def check_receive_webhook(receive_webhook, apply_payment) -> Feedback:
    """Deliver two events for one order, the first one four times, and count the runs."""
    name = _workflow_name(apply_payment)
    if name is None:
        return wrong("apply_payment is not a DBOS workflow: run the cell that defines it first.")
    token = uuid.uuid4().hex[:8]
    order = f"C-{token}"
    first = {"id": f"evt_{token}_1", "type": "payment.succeeded", "order": order, "amount": 45}
    second = {"id": f"evt_{token}_2", "type": "payment.succeeded", "order": order, "amount": 5}

    answers = _in_thread(_deliver, receive_webhook, first, 3)
    first_runs = _in_thread(_runs_for, name, first["id"])
    if first_runs == 0 and all(answer is None for answer in answers):
        return todo()
    if first_runs == 0:
        return wrong(
            "apply_payment never ran with the delivered event: receive_webhook must start "
            "it, with DBOS.start_workflow(apply_payment, event)."
        )
    if first_runs > 1:
        return wrong(
            f"one event, delivered four times, ran apply_payment {first_runs} times: each "
            "delivery started a new workflow. Name the workflow after the event, with "
            "SetWorkflowID(...) around the start, so every delivery finds the same one."
        )
    answer = _in_thread(receive_webhook, dict(second))
    second_runs = _in_thread(_runs_for, name, second["id"])
    if second_runs == 0:
        return wrong(
            "the second event for the same order was never applied: its delivery was taken "
            "for a duplicate of the first. Derive the ID from event['id'], not from the order."
        )
    if any(a is None for a in answers) or answer is None:
        return wrong(
            "apply_payment ran once per event, but receive_webhook returned None: return the "
            "workflow's result (handle.get_result())."
        )
    if len(set(answers)) != 1:
        return wrong(f"the deliveries of one event got different answers: {sorted(set(answers))}")
    return correct(
        "four deliveries of one event ran apply_payment once and got the same answer, "
        "and a second event for the same order was applied on its own."
    )


# --- exercise 2: a digest every weekday morning --------------------------------

SCHEDULE_NAME = "support-digest"
PARIS = ZoneInfo("Europe/Paris")
# A winter week and a summer week (Paris is UTC+1, then UTC+2), Monday to Sunday.
WEEKS = [datetime(2026, 1, 5, tzinfo=timezone.utc), datetime(2026, 7, 6, tzinfo=timezone.utc)]


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


def _describe(times: list[datetime]) -> str:
    """The first due times, as Paris clock times."""
    shown = [t.astimezone(PARIS).strftime("%a %H:%M") for t in times[:3]]
    return ", ".join(shown) + (", ..." if len(times) > 3 else "")


@checker
def check_install_digest_schedule(install_digest_schedule, send_digest) -> Feedback:
    """Install twice, then compare the schedule's due times with 07:30 Paris, Mon-Fri."""
    from dbos import DBOS

    _in_thread(DBOS.delete_schedule, SCHEDULE_NAME)  # start from no schedule
    result = _in_thread(install_digest_schedule)
    schedule = _in_thread(DBOS.get_schedule, SCHEDULE_NAME)
    if schedule is None:
        others = [s["schedule_name"] for s in _in_thread(DBOS.list_schedules)]
        if result is None and not others:
            return todo()
        return wrong(
            f"there is no schedule named {SCHEDULE_NAME!r} (schedules found: {others}). "
            "Use schedule_name='support-digest'."
        )
    try:
        _in_thread(install_digest_schedule)
    except Exception as error:
        if "already exists" in str(error):
            return wrong(
                "the second start-up failed: create_schedule refuses a name that exists, "
                "and install_digest_schedule runs at every start. Use DBOS.apply_schedules, "
                "which creates or replaces the schedule by name."
            )
        raise
    if schedule["workflow_name"] != _workflow_name(send_digest):
        return wrong(
            f"the schedule runs {schedule['workflow_name']!r}; it should run send_digest."
        )
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
    if zone is None and _fire_times(cron, "Europe/Paris") == wanted:
        return wrong(
            f"{cron!r} is right, but it is read in UTC: the digest would arrive at 08:30 "
            "in Paris in winter and 09:30 in summer. Set cron_timezone='Europe/Paris'."
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
    return wrong(
        f"{cron!r} (time zone {zone}) fires at {_describe(got)}; the team wants "
        "Monday to Friday at 07:30, Paris time."
    )


# --- exercise 3: ship an order, or undo it --------------------------------------

STEPS = ["reserve_stock", "charge_customer", "book_courier"]
COMPENSATIONS = ("release_stock", "refund_customer")


def _scenarios(token: str) -> list[tuple[str, dict, list[str], bool]]:
    """(what fails, order, expected ledger, expected to ship)."""
    base = {"item": "kettle", "card": "ok", "postcode": "75001"}
    return [
        ("nothing", {**base, "id": f"S-{token}-1"}, STEPS, True),
        ("book_courier", {**base, "id": f"S-{token}-2", "postcode": "00000"},
         ["reserve_stock", "charge_customer", "refund_customer", "release_stock"], False),
        ("charge_customer", {**base, "id": f"S-{token}-3", "card": "declined"},
         ["reserve_stock", "release_stock"], False),
        ("reserve_stock", {**base, "id": f"S-{token}-4", "item": "sold out"}, [], False),
    ]


def _ship(ship_order, order: dict) -> tuple[Any, BaseException | None]:
    try:
        return ship_order(order), None
    except Exception as error:  # noqa: BLE001 - reported as feedback
        return None, error


@checker
def check_ship_order(ship_order, ledger: str | Path) -> Feedback:
    """Ship four orders, failing at each step in turn, and compare the ledger."""
    token = uuid.uuid4().hex[:8]

    def lines_for(order: dict) -> list[str]:
        prefix = order["id"] + " "
        return [line[len(prefix):] for line in read_ledger(ledger) if line.startswith(prefix)]

    for fails, order, expected, ships in _scenarios(token):
        result, error = _in_thread(_ship, ship_order, order)
        got = lines_for(order)
        if fails == "nothing" and result is None and error is None and not got:
            return todo()
        if fails == "nothing" and _workflow_name(ship_order) is None:
            return wrong("ship_order is not a workflow yet: decorate it with @DBOS.workflow().")
        if error is not None and got == expected:
            return wrong(
                f"when {fails} failed you undid the right steps, but ship_order then raised "
                f"{type(error).__name__}: {error}. Catch the failure and return "
                "'cancelled: <the failure>'."
            )
        if error is not None:
            return wrong(
                f"when {fails} failed, ship_order raised {type(error).__name__}: {error}, "
                f"and the ledger shows {got}. Catch ShippingFailed and undo the steps "
                "that had finished, in reverse order."
            )
        if got == expected:
            if ships and result != "shipped":
                return wrong(
                    f"the order shipped, but ship_order returned {result!r}, not 'shipped'."
                )
            if not ships and not str(result).startswith("cancelled"):
                return wrong(
                    f"when {fails} failed the ledger is right, but ship_order returned "
                    f"{result!r}; return 'cancelled: <the failure>'."
                )
            continue
        if fails == "nothing":
            return wrong(
                f"an order that fails nowhere should run {STEPS} in order; "
                f"the ledger shows {got}."
            )
        undone = [line for line in got if line in COMPENSATIONS]
        expected_undo = [line for line in expected if line in COMPENSATIONS]
        if "refund_customer" in got and "charge_customer" not in got:
            return wrong(
                f"when {fails} failed you refunded a charge that never happened: add a "
                "compensation to the list only after its step has succeeded."
            )
        if "release_stock" in got and "reserve_stock" not in got:
            return wrong(
                "when reserve_stock failed you released stock that was never reserved: add a "
                "compensation to the list only after its step has succeeded."
            )
        if sorted(undone) == sorted(expected_undo) and undone != expected_undo:
            return wrong(
                f"when {fails} failed you undid the right steps in the wrong order ({undone}): "
                "undo in reverse, the last step done first (reversed(compensations))."
            )
        if not undone:
            return wrong(
                f"when {fails} failed nothing was undone (ledger: {got}): run the compensations "
                "of the steps that had finished."
            )
        return wrong(f"when {fails} failed the ledger shows {got}; it should show {expected}.")
    return correct(
        "the order ships when nothing fails, and a failure at each step undoes exactly the "
        "steps that had finished, last first."
    )
