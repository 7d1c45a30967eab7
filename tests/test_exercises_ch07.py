"""Chapter 7's checkers accept the solutions and explain typical wrong answers.

The checkers run the learner's code against a launched DBOS, so each test gets
a fresh DBOS on a SQLite file of its own. The exercises' given workflows and
steps are registered once, at import, as the notebook registers them before
the check cells run.
"""

import uuid
from datetime import datetime
from types import SimpleNamespace

import pytest
from dbos import DBOS, SetWorkflowID

from booktools.checks import ch07_patterns
from support import assert_wrong, checker_config


class ShippingFailed(Exception):
    pass


# The given (non-exercise) code of the three exercises, registered once at import,
# under names of their own so that they never meet another chapter's functions.
LEDGER = {"path": None}  # each test points it at a file of its own


def record(line):
    with open(LEDGER["path"], "a") as file:
        file.write(line + "\n")


@DBOS.step(name="ch07_credit_order")
def credit_order(order, amount):
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


@DBOS.step(name="ch07_book_courier")
def book_courier(order):
    if order["postcode"] == "00000":
        raise ShippingFailed("no courier for this address")
    record(f"{order['id']} book_courier")


@pytest.fixture
def app(tmp_path):
    DBOS.destroy()
    LEDGER["path"] = tmp_path / "ledger.txt"
    DBOS(config=checker_config("ch07-checks", tmp_path / "dbos.sqlite", log_level="ERROR"))
    DBOS.launch()
    yield SimpleNamespace(
        ledger=LEDGER["path"], apply_payment=apply_payment, send_digest=send_digest,
        reserve_stock=reserve_stock, release_stock=release_stock,
        charge_customer=charge_customer, refund_customer=refund_customer,
        book_courier=book_courier,
    )
    DBOS.destroy()



# --- exercise 1: receive_webhook ----------------------------------------------


def webhook_receiver(app, workflow_id=None, returns=True):
    def receive_webhook(event):
        if workflow_id is None:
            handle = DBOS.start_workflow(app.apply_payment, event)
        else:
            with SetWorkflowID(workflow_id(event)):
                handle = DBOS.start_workflow(app.apply_payment, event)
        result = handle.get_result(polling_interval_sec=0.05)
        return result if returns else None

    return receive_webhook


def test_webhook_accepts_the_solution(app):
    solution = webhook_receiver(app, lambda event: f"webhook-{event['id']}")
    assert ch07_patterns.check_receive_webhook(solution, app.apply_payment).ok


def test_webhook_accepts_a_direct_call(app):
    def receive_webhook(event):
        with SetWorkflowID(event["id"]):
            return app.apply_payment(event)

    assert ch07_patterns.check_receive_webhook(receive_webhook, app.apply_payment).ok


def test_webhook_starter_is_not_done_yet(app):
    def receive_webhook(event):
        ...

    feedback = ch07_patterns.check_receive_webhook(receive_webhook, app.apply_payment)
    assert feedback.status == "todo", feedback


@pytest.mark.parametrize(
    "workflow_id, returns, hint",
    [
        (None, True, "each delivery started a new workflow"),  # no ID at all
        (lambda event: str(uuid.uuid4()), True, "each delivery started a new workflow"),
        (lambda event: f"pay-{event['order']}", True, "not from the order"),  # too coarse
        (lambda event: f"webhook-{event['id']}", False, "returned None"),  # forgot return
    ],
)
def test_webhook_explains_wrong_receivers(app, workflow_id, returns, hint):
    receiver = webhook_receiver(app, workflow_id, returns)
    assert_wrong(ch07_patterns.check_receive_webhook(receiver, app.apply_payment), hint)


# --- exercise 2: install_digest_schedule --------------------------------------


def installer(app, how="apply", schedule="30 7 * * 1-5", zone="Europe/Paris",
              context=None):
    entry = {
        "schedule_name": "support-digest",
        "workflow_fn": app.send_digest,
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
    assert ch07_patterns.check_install_digest_schedule(installer(app), app.send_digest).ok


def test_schedule_accepts_six_fields(app):
    six = installer(app, schedule="0 30 7 * * mon-fri")
    assert ch07_patterns.check_install_digest_schedule(six, app.send_digest).ok


def test_schedule_starter_is_not_done_yet(app):
    def install_digest_schedule():
        ...

    feedback = ch07_patterns.check_install_digest_schedule(install_digest_schedule,
                                                           app.send_digest)
    assert feedback.status == "todo", feedback


@pytest.mark.parametrize(
    "options, hint",
    [
        ({"how": "create"}, "Use DBOS.apply_schedules"),
        ({"zone": None}, "cron_timezone='Europe/Paris'"),
        ({"schedule": "30 7 * * *"}, "also fires at weekends"),
        ({"schedule": "* 7 * * 1-5"}, "60 times a day"),
        ({"schedule": "7 30 * * 1-5"}, "Invalid cron schedule"),  # DBOS's own error
        ({"context": {"team": "sales"}}, "context={'team': 'support'}"),
    ],
)
def test_schedule_explains_wrong_installers(app, options, hint):
    feedback = ch07_patterns.check_install_digest_schedule(installer(app, **options),
                                                           app.send_digest)
    assert_wrong(feedback, hint)


# --- exercise 3: ship_order -----------------------------------------------------


def saga(app, order="reverse", register="after", reraise=False, decorate=True):
    steps = [(app.reserve_stock, app.release_stock),
             (app.charge_customer, app.refund_customer)]

    def ship_order(order_):
        compensations = []
        try:
            for step, undo in steps:
                if register == "before":
                    compensations.append(undo)
                step(order_)
                if register == "after":
                    compensations.append(undo)
            app.book_courier(order_)
        except ShippingFailed as failure:
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
    assert ch07_patterns.check_ship_order(saga(app), app.ledger).ok


def test_saga_starter_is_not_done_yet(app):
    def ship_order(order):
        ...

    assert ch07_patterns.check_ship_order(ship_order, app.ledger).status == "todo"


@pytest.mark.parametrize(
    "options, hint",
    [
        ({"decorate": False}, "decorate it with @DBOS.workflow()"),
        ({"order": "forward"}, "in the wrong order"),
        ({"register": "before"}, "never happened"),
        ({"register": None}, "nothing was undone"),  # no compensation at all
        ({"reraise": True}, "then raised ShippingFailed"),
    ],
)
def test_saga_explains_wrong_workflows(app, options, hint):
    assert_wrong(ch07_patterns.check_ship_order(saga(app, **options), app.ledger), hint)


def test_saga_explains_a_workflow_without_try(app):
    @DBOS.workflow(name="ch07_ship_order_no_try")
    def ship_order_no_try(order):
        app.reserve_stock(order)
        app.charge_customer(order)
        app.book_courier(order)
        return "shipped"

    assert_wrong(ch07_patterns.check_ship_order(ship_order_no_try, app.ledger),
                 "Catch ShippingFailed")
