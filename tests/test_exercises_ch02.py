"""Chapter 2's checkers accept the solutions and explain typical wrong answers.

The checkers run the learner's workflows with DBOS for real, so each test gets a fresh
DBOS on a SQLite file of its own.
"""

import random
import uuid
from pathlib import Path

import pytest
from dbos import DBOS, SetWorkflowID

from booktools.checks import ch02_workflows
from support import assert_correct, assert_todo, assert_wrong, launched_dbos

LEDGER: dict[str, Path] = {}  # where charge_invoice writes, set by the fixture


@pytest.fixture
def dbos(tmp_path):
    LEDGER["path"] = tmp_path / "ledger.txt"
    with launched_dbos("ch02-exercise-tests", tmp_path / "system.sqlite"):
        yield LEDGER["path"]


# --- exercise 1: pay each invoice once ---------------------------------------


@DBOS.step()
def ch02_charge_invoice(invoice_id: str, amount: int) -> str:
    with LEDGER["path"].open("a") as ledger:
        ledger.write(f"invoice {invoice_id} {amount}\n")
    return f"{invoice_id}: paid {amount}"


@DBOS.workflow()
def ch02_pay_invoice(invoice_id: str, amount: int) -> str:
    return ch02_charge_invoice(invoice_id, amount)


def pay_solution(invoice_id, amount):
    with SetWorkflowID(f"pay-{invoice_id}"):
        return DBOS.start_workflow(ch02_pay_invoice, invoice_id, amount).get_result()


def pay_called_in_block(invoice_id, amount):  # also right
    with SetWorkflowID(f"pay-{invoice_id}"):
        return ch02_pay_invoice(invoice_id, amount)


def pay_starter(invoice_id, amount):
    ...


def pay_without_id(invoice_id, amount):
    return ch02_pay_invoice(invoice_id, amount)


def pay_with_random_id(invoice_id, amount):
    with SetWorkflowID(str(uuid.uuid4())):
        return ch02_pay_invoice(invoice_id, amount)


def pay_with_constant_id(invoice_id, amount):
    with SetWorkflowID("pay-invoice"):
        return ch02_pay_invoice(invoice_id, amount)


def pay_without_return(invoice_id, amount):
    with SetWorkflowID(f"pay-{invoice_id}"):
        ch02_pay_invoice(invoice_id, amount)


def pay_returns_the_handle(invoice_id, amount):
    with SetWorkflowID(f"pay-{invoice_id}"):
        return DBOS.start_workflow(ch02_pay_invoice, invoice_id, amount)


async def pay_async(invoice_id, amount):
    with SetWorkflowID(f"pay-{invoice_id}"):
        handle = await DBOS.start_workflow_async(ch02_pay_invoice, invoice_id, amount)
        return await handle.get_result()


@pytest.mark.parametrize("pay", [pay_solution, pay_called_in_block])
def test_ch02_pay_accepts_the_solution(dbos, pay):
    assert_correct(ch02_workflows.check_pay_once(pay, dbos))


def test_ch02_pay_starter_is_not_done_yet(dbos):
    assert_todo(ch02_workflows.check_pay_once(pay_starter, dbos))


@pytest.mark.parametrize(
    "pay, hint",
    [
        (pay_without_id, "charged it 2 times"),
        (pay_with_random_id, "random or time-based ID"),
        (pay_with_constant_id, "the recorded result of another invoice"),
        (pay_without_return, "returned None"),
        # the ID was right; the ledger is read before the background workflow writes
        (pay_returns_the_handle, "returned a workflow handle, not the workflow's result"),
        (pay_async, "should be a plain `def`"),
    ],
)
def test_ch02_pay_explains_wrong_answers(dbos, pay, hint):
    assert_wrong(ch02_workflows.check_pay_once(pay, dbos), hint)


def test_ch02_pay_judges_a_rerun_on_its_own(dbos):
    """A constant ID recorded by an earlier check is still named as the cause, not as
    "nothing was charged"."""
    ch02_workflows.check_pay_once(pay_with_constant_id, dbos)
    assert_wrong(ch02_workflows.check_pay_once(pay_with_constant_id, dbos),
                 "the recorded result of another invoice")


def test_ch02_pay_without_dbos_says_to_run_the_set_up_cells(tmp_path):
    feedback = ch02_workflows.check_pay_once(pay_solution, tmp_path / "ledger.txt")
    assert feedback.status == "setup", feedback


# --- exercise 2: a deterministic checkout ------------------------------------


@DBOS.step()
def ch02_give_coupon(order_id: str) -> str:
    return f"{order_id}: coupon"


@DBOS.step()
def ch02_thank_customer(order_id: str) -> str:
    return f"{order_id}: thank you"


@DBOS.step()
def ch02_draw() -> float:
    return random.random()


@DBOS.workflow()
def ch02_checkout_solution(order_id: str) -> str:
    if ch02_draw() < 0.1:
        return ch02_give_coupon(order_id)
    return ch02_thank_customer(order_id)


@DBOS.workflow()
def ch02_checkout_random_in_workflow(order_id: str) -> str:
    if random.random() < 0.1:
        return ch02_give_coupon(order_id)
    return ch02_thank_customer(order_id)


@DBOS.workflow()
def ch02_checkout_branches_swapped(order_id: str) -> str:
    if ch02_draw() > 0.1:
        return ch02_give_coupon(order_id)
    return ch02_thank_customer(order_id)


@DBOS.step()
def ch02_draw_and_reward(order_id: str) -> str:
    if random.random() < 0.1:
        return ch02_give_coupon(order_id)  # a step in a step: a plain call
    return ch02_thank_customer(order_id)


@DBOS.workflow()
def ch02_checkout_all_in_one_step(order_id: str) -> str:
    return ch02_draw_and_reward(order_id)


def checkout_starter(order_id: str) -> str:
    ...


def checkout_undecorated(order_id: str) -> str:
    if ch02_draw() < 0.1:
        return ch02_give_coupon(order_id)
    return ch02_thank_customer(order_id)


def test_ch02_checkout_accepts_the_solution(dbos):
    assert_correct(ch02_workflows.check_checkout(ch02_checkout_solution))


def test_ch02_checkout_starter_is_not_done_yet(dbos):
    assert_todo(ch02_workflows.check_checkout(checkout_starter))


def test_ch02_checkout_counts_the_replay_s_traceback_instead_of_showing_it(dbos, capfd):
    capfd.readouterr()
    feedback = ch02_workflows.check_checkout(ch02_checkout_random_in_workflow)
    assert "Traceback" not in capfd.readouterr().err
    assert "(DBOS logged 1 error" in feedback.message, feedback


@pytest.mark.parametrize(
    "checkout, hint",
    [
        (ch02_checkout_random_in_workflow, "DBOSUnexpectedStepError"),
        (ch02_checkout_branches_swapped, "Keep the behaviour"),
        (checkout_undecorated, "decorate it with @DBOS.workflow()"),
        (ch02_checkout_all_in_one_step, "a step of its own"),
    ],
)
def test_ch02_checkout_explains_wrong_answers(dbos, checkout, hint):
    assert_wrong(ch02_workflows.check_checkout(checkout), hint)
