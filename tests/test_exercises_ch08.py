"""Chapter 8's checkers accept the solutions and explain typical wrong answers.

The shop the exercises test is the one the chapter writes: its source is read
from the notebook's `%%writefile scratch/ch08/shop.py` cell, so these tests
need no scratch folder and stay in step with the chapter.
"""

import json
import types
from pathlib import Path

import pytest
from dbos import DBOS, SetWorkflowID
from dbos._dbos import _get_or_create_dbos_registry

from booktools.checks import ch08_testing
from support import assert_correct, assert_todo, assert_wrong

ROOT = Path(__file__).resolve().parent.parent
SHOP_CELL = "%%writefile scratch/ch08/shop.py\n"
SHOP_FUNCTIONS = [
    "reserve_stock", "release_stock", "charge_card", "send_receipt", "checkout"
]

shop = None  # the chapter's shop module, loaded by the fixture below


def load_shop() -> types.ModuleType:
    cells = json.loads((ROOT / "notebooks" / "08_testing.ipynb").read_text())["cells"]
    source = next(
        "".join(c["source"]) for c in cells if "".join(c["source"]).startswith(SHOP_CELL)
    )
    module = types.ModuleType("shop")
    exec(compile(source[len(SHOP_CELL):], "shop.py", "exec"), module.__dict__)
    return module


@pytest.fixture(scope="module", autouse=True)
def chapter_shop():
    """Load the shop for this module's tests only.

    Its functions have common names (checkout, charge_card, ...), and DBOS
    registers functions by name for the whole process: other chapters' tests
    in the same run must neither clash with them nor see them.
    """
    global shop
    registered = _get_or_create_dbos_registry().workflow_info_map
    saved = dict(registered)
    for name in SHOP_FUNCTIONS:
        registered.pop(name, None)
    shop = load_shop()
    yield shop
    registered.clear()
    registered.update(saved)


@pytest.fixture(autouse=True)
def no_dbos_left_behind():
    yield
    DBOS.destroy()


# --- exercise 1: the fixture ------------------------------------------------------


@pytest.fixture()
def solution_fixture(test_config):
    DBOS.destroy()
    DBOS(config=test_config)
    DBOS.reset_system_database()
    DBOS.launch()
    yield
    DBOS.destroy()


def test_fixture_solution_is_correct():
    assert_correct(ch08_testing.check_fixture(solution_fixture))


def test_fixture_starter_is_not_done_yet():
    @pytest.fixture()
    def fresh_dbos(test_config):
        ...  # before the test
        yield
        ...  # after the test

    assert_todo(ch08_testing.check_fixture(fresh_dbos))


def no_reset(test_config):
    DBOS.destroy()
    DBOS(config=test_config)
    DBOS.launch()
    yield
    DBOS.destroy()


def reset_after_launch(test_config):
    DBOS.destroy()
    DBOS(config=test_config)
    DBOS.launch()
    DBOS.reset_system_database()
    yield
    DBOS.destroy()


def no_destroy_first(test_config):
    DBOS(config=test_config)
    DBOS.reset_system_database()
    DBOS.launch()
    yield
    DBOS.destroy()


def no_teardown(test_config):
    DBOS.destroy()
    DBOS(config=test_config)
    DBOS.reset_system_database()
    DBOS.launch()
    yield


def returns_instead_of_yielding(test_config):
    DBOS.destroy()
    DBOS(config=test_config)
    DBOS.reset_system_database()
    DBOS.launch()


def ignores_its_config(test_config):
    DBOS.destroy()
    DBOS(config={**test_config, "application_version": "mine"})
    DBOS.reset_system_database()
    DBOS.launch()
    yield
    DBOS.destroy()


@pytest.mark.parametrize(
    "fixture, hint",
    [
        (no_reset, "workflow(s) from the first one"),
        (reset_after_launch, "before DBOS.launch()"),
        (no_destroy_first, "Call DBOS.destroy() first"),
        (no_teardown, "DBOS is still there"),
        (returns_instead_of_yielding, "must `yield`"),
        (ignores_its_config, "the config the fixture receives"),
    ],
)
def test_fixture_checker_explains_wrong_fixtures(fixture, hint):
    assert_wrong(ch08_testing.check_fixture(pytest.fixture()(fixture)), hint)


# --- exercise 2: a test of the sold-out path ------------------------------------


def solution_test(reset_dbos, world):
    with SetWorkflowID("order-5"):
        result = shop.checkout("order-5", "lamp", 2)
    assert result == {"order": "order-5", "status": "out of stock"}
    assert world.charges == []
    assert world.mails == []


def test_sold_out_solution_is_correct():
    assert_correct(ch08_testing.check_sold_out_test(solution_test, shop))


def test_sold_out_starter_is_not_done_yet():
    def starter(reset_dbos, world):
        ...  # your test

    assert_todo(ch08_testing.check_sold_out_test(starter, shop))


def checks_status_only(reset_dbos, world):
    assert shop.checkout("order-5", "lamp", 2)["status"] == "out of stock"


def checks_status_and_charges(reset_dbos, world):
    assert shop.checkout("order-5", "lamp", 2)["status"] == "out of stock"
    assert world.charges == []


def checks_effects_only(reset_dbos, world):
    shop.checkout("order-5", "lamp", 2)
    assert world.charges == [] and world.mails == []


def expects_another_status(reset_dbos, world):
    assert shop.checkout("order-5", "lamp", 2)["status"] == "sold out"


def imported_checkout(reset_dbos, world):
    assert checkout("order-5", "lamp", 2)["status"] == "out of stock"  # noqa: F821


def asks_for_an_unknown_fixture(reset_dbos, world, database):
    assert shop.checkout("order-5", "lamp", 2)["status"] == "out of stock"


@pytest.mark.parametrize(
    "test, hint",
    [
        (checks_status_only, "world.charges should be empty"),
        (checks_status_and_charges, "world.mails should be empty"),
        (checks_effects_only, "its status should be 'out of stock'"),
        (expects_another_status, "fails on the correct shop"),
        (imported_checkout, "call the workflow as shop.checkout"),
        (asks_for_an_unknown_fixture, "not ['database']"),
    ],
)
def test_sold_out_checker_explains_weak_tests(test, hint):
    assert_wrong(ch08_testing.check_sold_out_test(test, shop), hint)


# --- exercise 3: a deterministic waiting list ---------------------------------------


@DBOS.step()
def ch08_test_in_stock(item: str, quantity: int) -> bool:
    return shop.STOCK.get(item, 0) >= quantity


@DBOS.step()
def ch08_test_add_to_waitlist(order_id: str, item: str) -> None:
    shop.mail_api(order_id, f"{item} is sold out: you are on the waiting list")


@DBOS.workflow()
def ch08_test_waitlist_solution(order_id: str, item: str, quantity: int) -> dict:
    if not ch08_test_in_stock(item, quantity):
        ch08_test_add_to_waitlist(order_id, item)
        return {"order": order_id, "status": "waitlisted"}
    return shop.checkout(order_id, item, quantity)


def test_waitlist_solution_is_correct():
    assert_correct(ch08_testing.check_waitlist(ch08_test_waitlist_solution, shop))


def test_waitlist_starter_is_not_done_yet():
    def checkout_with_waitlist(order_id: str, item: str, quantity: int) -> dict:
        ...  # your workflow

    assert_todo(ch08_testing.check_waitlist(checkout_with_waitlist, shop))


@DBOS.workflow()
def ch08_test_waitlist_looks_outside_a_step(order_id: str, item: str, quantity: int):
    if shop.STOCK.get(item, 0) < quantity:  # the colleague's version
        ch08_test_add_to_waitlist(order_id, item)
        return {"order": order_id, "status": "waitlisted"}
    return shop.checkout(order_id, item, quantity)


def ch08_test_waitlist_not_a_workflow(order_id: str, item: str, quantity: int):
    if not ch08_test_in_stock(item, quantity):
        ch08_test_add_to_waitlist(order_id, item)
        return {"order": order_id, "status": "waitlisted"}
    return shop.checkout(order_id, item, quantity)


@DBOS.workflow()
def ch08_test_waitlist_says_out_of_stock(order_id: str, item: str, quantity: int):
    if not ch08_test_in_stock(item, quantity):
        ch08_test_add_to_waitlist(order_id, item)
        return {"order": order_id, "status": "out of stock"}
    return shop.checkout(order_id, item, quantity)


@DBOS.workflow()
def ch08_test_waitlist_tells_nobody(order_id: str, item: str, quantity: int):
    if not ch08_test_in_stock(item, quantity):
        return {"order": order_id, "status": "waitlisted"}
    return shop.checkout(order_id, item, quantity)


@pytest.mark.parametrize(
    "workflow, hint",
    [
        (ch08_test_waitlist_looks_outside_a_step, "the replay went down another branch"),
        (ch08_test_waitlist_not_a_workflow, "not a DBOS workflow"),
        (ch08_test_waitlist_says_out_of_stock, "'status': 'waitlisted'"),
        (ch08_test_waitlist_tells_nobody, "a waitlisted customer is told so"),
    ],
)
def test_waitlist_checker_explains_wrong_workflows(workflow, hint):
    assert_wrong(ch08_testing.check_waitlist(workflow, shop), hint)


# --- exercise 3: predict a crash that is not one ---------------------------------------

RIGHT_PREDICTION = {
    "status after the crash": "ERROR",
    "steps after the crash": ["reserve_stock", "charge_card", "send_receipt"],
    "status after the restart": "ERROR",
    "charges": 1,
    "mails": 0,
    "books in stock": 4,
}


def predicting(**changes):
    """The right prediction, with some values changed (keys: words joined by _)."""
    return {**RIGHT_PREDICTION, **{key.replace("_", " "): v for key, v in changes.items()}}


def test_crash_prediction_solution_is_correct():
    assert_correct(ch08_testing.check_crash_prediction(RIGHT_PREDICTION, shop))


def test_crash_prediction_accepts_statuses_in_lower_case():
    lower = predicting(status_after_the_crash="error", status_after_the_restart="error ")
    assert_correct(ch08_testing.check_crash_prediction(lower, shop))


def test_crash_prediction_starter_is_not_done_yet():
    starter = {key: ... for key in RIGHT_PREDICTION}
    assert_todo(ch08_testing.check_crash_prediction(starter, shop))
    half_done = {**starter, "charges": 1}
    assert_todo(ch08_testing.check_crash_prediction(half_done, shop))


def test_crash_prediction_copied_from_the_chapters_test_names_each_cause():
    """What test_recovery.py asserts for Crash(BaseException), predicted for Crash(Exception):
    every value that differs gets its own cause."""
    chapters = predicting(
        status_after_the_crash="PENDING",
        steps_after_the_crash=["reserve_stock", "charge_card"],
        status_after_the_restart="SUCCESS",
        mails=1,
    )
    feedback = ch08_testing.check_crash_prediction(chapters, shop)
    assert_wrong(feedback, "4 of your 6 predictions differ")
    for hint in ("Only a BaseException that is not an Exception", "send_receipt is recorded too",
                 "launch() recovers PENDING workflows only", "no mail went out"):
        assert hint in feedback.message, (hint, feedback)
    assert "charges" not in feedback.message, feedback  # a right value is not questioned


@pytest.mark.parametrize(
    "prediction, hint",
    [
        (predicting(status_after_the_crash="PENDING"), "DBOS records the failure of every"),
        (predicting(status_after_the_crash="SUCCESS"), "checkout catches only PaymentDeclined"),
        (predicting(steps_after_the_crash=["reserve_stock", "charge_card"]),
         "send_receipt is recorded too"),
        (predicting(steps_after_the_crash=["reserve_stock", "charge_card", "release_stock"]),
         "release_stock never ran"),
        (predicting(steps_after_the_crash=["reserve_stock", "charge_card", "mail_api"]),
         "mail_api is not a step"),
        (predicting(status_after_the_restart="SUCCESS"), "recovers PENDING workflows only"),
        (predicting(status_after_the_restart="PENDING"), "recovers PENDING workflows only"),
        (predicting(charges=0), "nothing undoes a finished step"),
        (predicting(charges=2), "nothing ran again after the restart"),
        (predicting(mails=1), "no mail went out"),
        (predicting(books_in_stock=5), "a failed workflow does not undo its steps"),
        (predicting(charges="1"), "should be a number"),
        ({k: v for k, v in RIGHT_PREDICTION.items() if k != "mails"}, "missing ['mails']"),
        (["ERROR", "ERROR"], "should be the dict of the starter"),
    ],
)
def test_crash_prediction_checker_explains_wrong_predictions(prediction, hint):
    assert_wrong(ch08_testing.check_crash_prediction(prediction, shop), hint)
