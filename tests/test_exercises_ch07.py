"""Chapter 7's checkers accept the solutions and explain typical wrong answers.

The checkers run the learner's code against a launched DBOS, so each test gets a fresh DBOS on a
SQLite file of its own (support.launched_dbos). The exercises' given workflows and steps are
registered once, at import, as the notebook registers them before the check cells run.
"""

import time
import uuid
from datetime import datetime
from types import SimpleNamespace

import dbos
import pytest
from dbos import DBOS, SetWorkflowID

from booktools.checks import ch07_patterns
from support import assert_correct, assert_todo, assert_wrong, launched_dbos


class ShippingFailed(Exception):
    pass


# The given (non-exercise) code of the three exercises, registered once at import,
# under names of their own so that they never meet another chapter's functions.
LEDGER = {"path": None}  # each test points it at a file of its own
courier_attempts: dict[str, int] = {}


def record(line):
    with open(LEDGER["path"], "a") as file:
        file.write(line + "\n")


@DBOS.step(name="ch07_credit_order")
def credit_order(order, amount):
    time.sleep(0.1)
    record(f"credited {amount} EUR to {order}")


@DBOS.workflow(name="ch07_apply_payment")
def apply_payment(event):
    credit_order(event["order"], event["amount"])
    return f"{event['id']} applied to {event['order']}"


@DBOS.workflow(name="ch07_send_digest")
def send_digest(scheduled_time: datetime, context: dict) -> str:
    return f"digest for {context['team']}"


@DBOS.step(name="ch07_reserve_stock")
def reserve_stock(order):
    if order["item"] == "sold out":
        raise ShippingFailed("out of stock")
    record(f"{order['id']} reserve_stock")


@DBOS.step(name="ch07_release_stock")
def release_stock(order):
    record(f"{order['id']} release_stock")


@DBOS.step(name="ch07_charge_customer")
def charge_customer(order):
    if order["card"] == "declined":
        raise ShippingFailed("card declined")
    record(f"{order['id']} charge_customer")


@DBOS.step(name="ch07_refund_customer")
def refund_customer(order):
    record(f"{order['id']} refund_customer")


@DBOS.step(name="ch07_book_courier", retries_allowed=True, max_attempts=3,
           interval_seconds=0.1)
def book_courier(order):
    courier_attempts[order["id"]] = courier_attempts.get(order["id"], 0) + 1
    if order["postcode"] == "00000":
        raise ShippingFailed("no courier for this address")
    if courier_attempts[order["id"]] <= order.get("busy", 0):
        raise ConnectionError("courier API busy")
    record(f"{order['id']} book_courier")


@pytest.fixture
def app(tmp_path):
    LEDGER["path"] = tmp_path / "ledger.txt"
    with launched_dbos("ch07-checks", tmp_path / "dbos.sqlite", log_level="ERROR"):
        yield SimpleNamespace(ledger=LEDGER["path"])


# --- exercise 1: receive_webhook ----------------------------------------------


def webhook_receiver(workflow_id=lambda event: f"webhook-{event['id']}", policy="reject",
                     look_first=False, catch=True, returns="dict", statuses=None):
    def receive_webhook(event):
        wid = workflow_id(event) if workflow_id else None
        status = "applied"
        if look_first:  # the race: look, then start
            exists = DBOS.get_workflow_status(wid) is not None
            time.sleep(0.3)
            status = "duplicate" if exists else "applied"
        try:
            if wid is None:
                handle = DBOS.start_workflow(apply_payment, event)
            else:
                with SetWorkflowID(wid, workflow_id_reuse_policy=policy):
                    handle = DBOS.start_workflow(apply_payment, event)
        except dbos.error.DBOSWorkflowIDInUseError:
            if not catch:
                raise
            handle = DBOS.retrieve_workflow(wid)
            status = "duplicate"
        if statuses is not None:
            status = statuses
        if returns == "handle":
            return handle
        result = handle.get_result(polling_interval_sec=0.05)
        return result if returns == "result" else {"status": status, "result": result}

    return receive_webhook


def test_webhook_accepts_the_solution(app):
    assert_correct(ch07_patterns.check_receive_webhook(webhook_receiver(), apply_payment))


def test_webhook_starter_is_not_done_yet(app):
    def receive_webhook(event):
        ...

    assert_todo(ch07_patterns.check_receive_webhook(receive_webhook, apply_payment))


@pytest.mark.parametrize(
    "options, hint",
    [
        ({"workflow_id": None}, "each delivery started a new workflow"),  # no ID at all
        ({"workflow_id": lambda event: str(uuid.uuid4())}, "each delivery started a new workflow"),
        ({"workflow_id": lambda event: f"pay-{event['order']}"}, "not from the order"),
        ({"returns": "result"}, "return a dict with two keys"),  # the chapter's handler
        ({"returns": "handle"}, "returned a workflow handle"),
        ({"policy": "return-existing"}, "attaches a duplicate to the existing run"),
        ({"policy": "return-existing", "look_first": True}, "Between the look and the start"),
        ({"catch": False}, "catch dbos.error.DBOSWorkflowIDInUseError"),
        ({"statuses": "duplicate"}, "it started the run, so it is 'applied'"),
    ],
)
def test_webhook_explains_wrong_receivers(app, options, hint):
    receiver = webhook_receiver(**options)
    assert_wrong(ch07_patterns.check_receive_webhook(receiver, apply_payment), hint)


def test_webhook_names_an_async_receiver(app):
    async def receive_webhook(event):
        return await DBOS.start_workflow_async(apply_payment, event)

    assert_wrong(ch07_patterns.check_receive_webhook(receive_webhook, apply_payment),
                 "should be a plain `def`")


# --- exercise 2: install_digest_schedule --------------------------------------


def installer(how="apply", schedule="30 7 * * 1-5", zone="Europe/Paris", context=None):
    entry = {
        "schedule_name": "support-digest",
        "workflow_fn": send_digest,
        "schedule": schedule,
        "context": context or {"team": "support"},
    }
    if zone:
        entry["cron_timezone"] = zone

    def install_digest_schedule():
        if how == "apply":
            DBOS.apply_schedules([entry])
        else:
            DBOS.create_schedule(**entry)

    return install_digest_schedule


def test_schedule_accepts_the_solution(app):
    assert_correct(ch07_patterns.check_install_digest_schedule(installer(), send_digest))


def test_schedule_accepts_six_fields(app):
    six = installer(schedule="0 30 7 * * mon-fri")
    assert_correct(ch07_patterns.check_install_digest_schedule(six, send_digest))


def test_schedule_accepts_the_async_api(app):
    async def install_digest_schedule():
        await DBOS.apply_schedules_async([{
            "schedule_name": "support-digest", "workflow_fn": send_digest,
            "schedule": "30 7 * * 1-5", "cron_timezone": "Europe/Paris",
            "context": {"team": "support"},
        }])

    assert_correct(ch07_patterns.check_install_digest_schedule(install_digest_schedule,
                                                               send_digest))


def test_schedule_starter_is_not_done_yet(app):
    def install_digest_schedule():
        ...

    assert_todo(ch07_patterns.check_install_digest_schedule(install_digest_schedule,
                                                            send_digest))


def test_schedule_shows_the_utc_conversion_with_a_summer_date(app):
    # 07:30 in Paris converted to UTC in January: right in winter, an hour late in summer.
    feedback = ch07_patterns.check_install_digest_schedule(
        installer(schedule="30 6 * * 1-5", zone=None), send_digest)
    assert_wrong(feedback, "is right in winter only")
    assert "on Mon 06 Jul 2026 it fires at 08:30 Paris time" in feedback.message, feedback


def test_schedule_explains_an_invalid_cron_string(app):
    feedback = ch07_patterns.check_install_digest_schedule(
        installer(schedule="7 30 * * 1-5"), send_digest)
    assert_wrong(feedback, "DBOS refused the cron string '7 30 * * 1-5'")
    assert "minute (0-59), hour (0-23)" in feedback.message
    assert "your code raised" not in feedback.message


@pytest.mark.parametrize(
    "options, hint",
    [
        ({"how": "create"}, "Use DBOS.apply_schedules"),
        ({"zone": None}, "cron_timezone='Europe/Paris'"),
        ({"schedule": "30 7 * * *"}, "also fires at weekends"),
        ({"schedule": "* 7 * * 1-5"}, "60 times a day"),
        ({"schedule": "30 7 * * 0-4"}, "also fires at weekends"),
        ({"context": {"team": "sales"}}, "context={'team': 'support'}"),
    ],
)
def test_schedule_explains_wrong_installers(app, options, hint):
    feedback = ch07_patterns.check_install_digest_schedule(installer(**options), send_digest)
    assert_wrong(feedback, hint)


# --- exercise 3: ship_order -----------------------------------------------------


def saga(order="reverse", register="after", reraise=False, decorate=True,
         catches=(ShippingFailed, dbos.error.DBOSMaxStepRetriesExceeded)):
    steps = [(reserve_stock, release_stock), (charge_customer, refund_customer)]

    def ship_order(order_):
        compensations = []
        try:
            for step, undo in steps:
                if register == "before":
                    compensations.append(undo)
                step(order_)
                if register == "after":
                    compensations.append(undo)
            book_courier(order_)
        except catches as failure:
            undo_list = reversed(compensations) if order == "reverse" else compensations
            for compensate in undo_list:
                compensate(order_)
            if reraise:
                raise
            return f"cancelled: {failure}"
        return "shipped"

    if decorate:  # a name of its own for each variant
        return DBOS.workflow(name=f"ch07_ship_order_{uuid.uuid4().hex[:8]}")(ship_order)
    return ship_order


def test_saga_accepts_the_solution(app):
    assert_correct(ch07_patterns.check_ship_order(saga(), app.ledger))


def test_saga_starter_is_not_done_yet(app):
    def ship_order(order):
        ...

    assert_todo(ch07_patterns.check_ship_order(ship_order, app.ledger))


@pytest.mark.parametrize(
    "options, hint",
    [
        ({"decorate": False}, "decorate it with @DBOS.workflow()"),
        ({"order": "forward"}, "in the wrong order"),
        ({"register": "before"}, "never happened"),
        ({"register": None}, "nothing was undone"),  # no compensation at all
        ({"reraise": True}, "then raised ShippingFailed"),
        # the chapter's book_trip without the retried step's exception
        ({"catches": ShippingFailed}, "Catch dbos.error.DBOSMaxStepRetriesExceeded too"),
    ],
)
def test_saga_explains_wrong_workflows(app, options, hint):
    assert_wrong(ch07_patterns.check_ship_order(saga(**options), app.ledger), hint)


def test_saga_explains_a_workflow_without_try(app):
    @DBOS.workflow(name="ch07_ship_order_no_try")
    def ship_order_no_try(order):
        reserve_stock(order)
        charge_customer(order)
        book_courier(order)
        return "shipped"

    assert_wrong(ch07_patterns.check_ship_order(ship_order_no_try, app.ledger),
                 "Catch ShippingFailed")


def test_saga_explains_undoing_a_busy_courier(app):
    @DBOS.workflow(name="ch07_ship_order_undoes_busy")
    def ship_order(order):  # calls the courier without its retries: a busy moment cancels
        compensations = []
        try:
            reserve_stock(order)
            compensations.append(release_stock)
            charge_customer(order)
            compensations.append(refund_customer)
            if order.get("busy"):
                raise ShippingFailed("courier busy")
            book_courier(order)
        except (ShippingFailed, dbos.error.DBOSMaxStepRetriesExceeded) as failure:
            for compensate in reversed(compensations):
                compensate(order)
            return f"cancelled: {failure}"
        return "shipped"

    assert_wrong(ch07_patterns.check_ship_order(ship_order, app.ledger),
                 "DBOS retries a busy courier")


# --- exercise 0: predict the ledger ---------------------------------------------


@DBOS.step(name="ch07_charge_card")
def charge_card(order_number, amount):
    record(f"charged {amount} EUR for {order_number}")
    return f"ch_{order_number}"


@DBOS.workflow(name="ch07_pay_for_order")
def pay_for_order(order_number, amount):
    return f"{order_number} paid ({charge_card(order_number, amount)})"


def by_customer(customer, order_number, amount):
    with SetWorkflowID(f"pay-{customer}"):
        handle = DBOS.start_workflow(pay_for_order, order_number, amount)
    return handle.get_result(polling_interval_sec=0.05)


def by_order(order_number, amount):
    with SetWorkflowID(f"pay-{order_number}"):
        handle = DBOS.start_workflow(pay_for_order, order_number, amount)
    return handle.get_result(polling_interval_sec=0.05)


RIGHT = ["charged 20 EUR for A-2002", "charged 20 EUR for A-2002", "charged 10 EUR for A-2001"]


@pytest.fixture
def chapter_so_far(app):
    """The section 'Choosing the key' ran: ada's first order is paid under pay-ada."""
    from booktools.exercises import off_the_event_loop

    off_the_event_loop(by_customer, "ada", "A-1003", 25)
    return app


def predict(lines, app):
    return ch07_patterns.check_ledger_prediction(lines, by_customer, by_order, app.ledger)


def test_prediction_accepts_the_right_lines_and_can_run_again(chapter_so_far):
    assert_correct(predict(RIGHT, chapter_so_far))
    assert_correct(predict(RIGHT, chapter_so_far))  # fresh order numbers each time


def test_prediction_starter_is_not_done_yet(chapter_so_far):
    assert_todo(predict(..., chapter_so_far))


@pytest.mark.parametrize(
    "lines, hint",
    [
        (["charged 10 EUR for A-2001", "charged 20 EUR for A-2002", "charged 20 EUR for A-2002",
          "charged 10 EUR for A-2001"], "ada's request (the first call) charged nothing"),
        (["charged 20 EUR for A-2002", "charged 10 EUR for A-2001"], "A-2002 was charged twice"),
        (["charged 20 EUR for A-2002", "charged 20 EUR for A-2002"], "the four calls added these"),
        ("charged 20 EUR for A-2002", "should be a list of ledger lines"),
    ],
)
def test_prediction_explains_wrong_predictions(chapter_so_far, lines, hint):
    assert_wrong(predict(lines, chapter_so_far), hint)
