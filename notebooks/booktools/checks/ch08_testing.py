"""Checkers for chapter 8, testing DBOS applications.

Each checker runs the learner's code for real: the fixture sets DBOS up on a temporary SQLite
file, the test runs against the shop and against versions of it with a bug each, the workflow
is replayed with a fork, and the crash prediction is compared with a real run of the chapter's
recovery test whose Crash is an Exception. Learner code runs on a thread of its own with a time
limit (the kit's off_the_event_loop), as pytest would run it: the notebook's thread has a running
event loop, where DBOS refuses blocking calls.

Like tests, the checks replace the notebook's DBOS with their own, on temporary databases, and
destroy it at the end; the chapter says so. They register, when they run (never at import), a
probe workflow (`ch08-exercise-probe`) and the three buggy checkouts
(`ch08-checkout-charges-first`, `ch08-checkout-mails-anyway`, `ch08-checkout-wrong-status`).
"""

from __future__ import annotations

import inspect
import tempfile
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from dbos import DBOS, SetWorkflowID
from dbos import error as dbos_error

from ..exercises import (
    Feedback, checker, correct, dbos_is_running, is_unchanged_starter, off_the_event_loop, todo,
    wait_until, wrong,
)

RESET_REFUSED = "cannot be reset after DBOS is launched"
CHECK_TIMEOUT = 60  # seconds for one round of the learner's fixture or test


# --- shared machinery ---------------------------------------------------------


def _config(folder: str, version: str, database: str = "exercise") -> dict:
    return {
        "name": "ch08-exercise",
        "system_database_url": f"sqlite:///{Path(folder) / database}.sqlite",
        "application_version": version,
        "log_level": "WARNING",
        "notification_listener_polling_interval_sec": 0.05,
    }


def _fresh_dbos(config: dict) -> None:
    DBOS.destroy()
    DBOS(config=config)
    DBOS.reset_system_database()
    DBOS.launch()


@contextmanager
def _fake_world(shop):
    """The chapter's `world` fixture: fresh stock, fake payment and mail services."""
    fake = SimpleNamespace(charges=[], mails=[])

    def payment_api(order_id, amount_cents):
        fake.charges.append((order_id, amount_cents))
        return f"ch_{len(fake.charges)}"

    def mail_api(order_id, text):
        fake.mails.append(order_id)

    fake.payment_api, fake.mail_api = payment_api, mail_api
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(shop, "STOCK", {"book": 5, "lamp": 1})
        patch.setattr(shop, "payment_api", payment_api)
        patch.setattr(shop, "mail_api", mail_api)
        yield fake, patch


def _recorded_steps(workflow_id):
    return [s["function_name"] for s in DBOS.list_workflow_steps(workflow_id)]


# --- exercise 1: the fixture -----------------------------------------------------


def _probe():
    """A workflow for the learner's fixture to leave in the database (registered now)."""

    @DBOS.workflow(name="ch08-exercise-probe")
    def probe() -> str:
        return "a workflow ran"

    return probe


def _finish(generator) -> None:
    """Run a generator fixture's teardown, as pytest does after the test."""
    try:
        next(generator)
    except StopIteration:
        return
    raise AssertionError("the fixture yields more than once: yield exactly once")


@checker
def check_fixture(fixture) -> Feedback:
    """The learner's fixture: a fresh, launched DBOS before the test; none after."""
    fn = getattr(fixture, "__wrapped__", fixture)  # under @pytest.fixture()
    if is_unchanged_starter(fn):
        return todo()
    if not inspect.isgeneratorfunction(fn):
        return wrong(
            "the fixture must `yield` (not return) to the test: pytest runs the code "
            "after the yield when the test is over, and that is where DBOS.destroy() goes."
        )
    with tempfile.TemporaryDirectory() as folder:
        try:
            return off_the_event_loop(_exercise_fixture, fn, folder, timeout=CHECK_TIMEOUT)
        finally:
            off_the_event_loop(DBOS.destroy)


def _start(fn, config):
    """Call the fixture up to its yield; return the generator, or wrong feedback."""
    generator = fn(config)
    try:
        next(generator)
    except AssertionError as error:
        if RESET_REFUSED in str(error):
            return None, error
        raise
    except StopIteration:
        return None, "no yield"
    return generator, None


def _exercise_fixture(fn, folder) -> Feedback:
    config = _config(folder, "fixture-check")

    # Round 1: a clean slate, as for the first test of a run.
    DBOS.destroy()
    generator, problem = _start(fn, config)
    if problem == "no yield":
        return wrong(
            "the fixture never reached its `yield`: put the yield between set-up "
            "and teardown."
        )
    if problem is not None:
        return wrong(
            f"DBOS refused: {problem}. Call DBOS.reset_system_database() after "
            "DBOS(config=...) and before DBOS.launch()."
        )
    if not dbos_is_running():
        return wrong(
            "when the test starts DBOS is not running: create it with "
            "DBOS(config=test_config), then call DBOS.launch() before the yield."
        )
    if DBOS.application_version != "fixture-check":
        return wrong(
            "DBOS was not configured with the config the fixture receives: "
            "pass it on, DBOS(config=test_config), so tests use the test database."
        )
    _probe()()  # the test runs a workflow: it stays in the database
    _finish(generator)
    if dbos_is_running():
        return wrong(
            "after the test, DBOS is still there: call DBOS.destroy() after the yield, "
            "so its background threads stop and the next test starts from nothing."
        )

    # Round 2: a workflow in the database, and an instance left running on
    # another database, as after a test that died before its teardown.
    DBOS(config=_config(folder, "left-behind", database="other"))
    DBOS.launch()
    generator, problem = _start(fn, config)
    if problem is not None or DBOS.application_version != "fixture-check":
        return wrong(
            "an earlier test left a DBOS instance running, and DBOS(config=...) kept it "
            "(it never replaces an existing instance)"
            + (f", so the reset failed: {problem}" if problem else "")
            + ". Call DBOS.destroy() first, before DBOS(config=...)."
        )
    leftover = DBOS.list_workflows()
    _finish(generator)
    if leftover:
        return wrong(
            f"the second test found {len(leftover)} workflow(s) from the first one in the "
            "database. Call DBOS.reset_system_database() between DBOS(config=...) and "
            "DBOS.launch()."
        )
    return correct(
        "destroy, configure, reset, launch; yield; destroy. The second test started clean "
        "even with an instance left running and a workflow in the database."
    )


# --- exercise 2: a test that catches bugs --------------------------------------------

def _mutants(shop) -> list[tuple[object, str]]:
    """The three buggy checkouts, each with the hint for a test that passes on it."""

    @DBOS.workflow(name="ch08-checkout-charges-first")
    def checkout_charges_first(order_id: str, item: str, quantity: int) -> dict:
        # The bug: it charges before it knows the stock, and never refunds.
        charge_id = shop.charge_card(order_id, shop.PRICES[item] * quantity)
        if not shop.reserve_stock(item, quantity):
            return {"order": order_id, "status": "out of stock"}
        shop.send_receipt(order_id, charge_id)
        return {"order": order_id, "status": "paid", "charge": charge_id}

    @DBOS.workflow(name="ch08-checkout-mails-anyway")
    def checkout_mails_anyway(order_id: str, item: str, quantity: int) -> dict:
        if not shop.reserve_stock(item, quantity):
            shop.send_receipt(order_id, "none")  # the bug: a receipt for nothing
            return {"order": order_id, "status": "out of stock"}
        charge_id = shop.charge_card(order_id, shop.PRICES[item] * quantity)
        shop.send_receipt(order_id, charge_id)
        return {"order": order_id, "status": "paid", "charge": charge_id}

    @DBOS.workflow(name="ch08-checkout-wrong-status")
    def checkout_wrong_status(order_id: str, item: str, quantity: int) -> dict:
        if not shop.reserve_stock(item, quantity):
            return {"order": order_id, "status": "declined"}  # the bug: copy and paste
        charge_id = shop.charge_card(order_id, shop.PRICES[item] * quantity)
        shop.send_receipt(order_id, charge_id)
        return {"order": order_id, "status": "paid", "charge": charge_id}

    return [
        (
            checkout_charges_first,
            "your test passes on a checkout that charges the card before it looks at the "
            "stock. Check what was charged: world.charges should be empty.",
        ),
        (
            checkout_mails_anyway,
            "your test passes on a checkout that mails a receipt for the sold-out order. "
            "Check what was mailed: world.mails should be empty.",
        ),
        (
            checkout_wrong_status,
            "your test passes on a checkout that reports a sold-out order as 'declined'. "
            "Check the result: its status should be 'out of stock'.",
        ),
    ]


FIXTURES = {"reset_dbos", "world", "monkeypatch", "recorded_steps"}


def _run_learner_test(test, shop, folder, workflow):
    """None if the test passes with `workflow` as shop.checkout, else what it raised."""
    with _fake_world(shop) as (world, patch):
        if workflow is not None:
            patch.setattr(shop, "checkout", workflow)
        _fresh_dbos(_config(folder, "sold-out-check"))
        given = {
            "reset_dbos": None,
            "world": world,
            "monkeypatch": patch,
            "recorded_steps": _recorded_steps,
        }
        names = inspect.signature(test).parameters
        try:
            test(**{name: given[name] for name in names})
        except AssertionError as error:
            return f"AssertionError: {error}".strip()
        except Exception as error:
            return f"{type(error).__name__}: {error}"
        finally:
            DBOS.destroy()
    return None


@checker
def check_sold_out_test(test, shop) -> Feedback:
    """The learner's test must pass on the shop and fail on each buggy checkout."""
    unknown = set(inspect.signature(test).parameters) - FIXTURES
    if unknown:
        return wrong(
            f"the checker can give your test the fixtures {sorted(FIXTURES)}, "
            f"not {sorted(unknown)}."
        )
    if "shop" not in inspect.unwrap(test).__code__.co_names:
        return wrong(
            "call the workflow as shop.checkout(...): the checker swaps in buggy versions "
            "of shop.checkout, and a name imported with `from shop import checkout` "
            "would not see them."
        )
    with tempfile.TemporaryDirectory() as folder:
        failure = off_the_event_loop(_run_learner_test, test, shop, folder, None,
                                     timeout=CHECK_TIMEOUT)
        if failure is not None:
            return wrong(f"your test fails on the correct shop: {failure}")
        for workflow, hint in _mutants(shop):
            if off_the_event_loop(_run_learner_test, test, shop, folder, workflow,
                                  timeout=CHECK_TIMEOUT) is None:
                return wrong(hint)
    return correct(
        "your test passes on the shop and fails on each of the three buggy checkouts: "
        "it checks the result, the charges and the mails."
    )


# --- exercise 3: a deterministic waiting list -------------------------------------------


@checker
def check_waitlist(workflow, shop) -> Feedback:
    """Sold out: waitlisted; last lamp: sold; and a replay takes the same path."""
    if getattr(workflow, "dbos_function_name", None) is None:
        return _not_a_workflow()
    with tempfile.TemporaryDirectory() as folder:
        return off_the_event_loop(_exercise_waitlist, workflow, shop, folder,
                                  timeout=CHECK_TIMEOUT)


def _not_a_workflow() -> Feedback:
    return wrong(
        "checkout_with_waitlist is not a DBOS workflow: decorate it with "
        "@DBOS.workflow(), so DBOS checkpoints it and can replay it."
    )


def _exercise_waitlist(workflow, shop, folder) -> Feedback:
    with _fake_world(shop) as (world, _patch):
        _fresh_dbos(_config(folder, "waitlist-check"))
        try:
            with SetWorkflowID("waitlist-1"):
                sold_out = workflow("waitlist-1", "lamp", 2)
            if DBOS.get_workflow_status("waitlist-1") is None:  # a step, not a workflow
                return _not_a_workflow()
            if sold_out != {"order": "waitlist-1", "status": "waitlisted"}:
                return wrong(
                    "two lamps, one in stock: expected "
                    "{'order': 'waitlist-1', 'status': 'waitlisted'}, "
                    f"got {sold_out!r}."
                )
            if world.mails != ["waitlist-1"] or world.charges:
                return wrong(
                    "a waitlisted customer is told so (one mail, from add_to_waitlist) "
                    f"and not charged; the fakes saw mails {world.mails} and charges "
                    f"{world.charges}."
                )
            with SetWorkflowID("waitlist-2"):
                first = workflow("waitlist-2", "lamp", 1)
            if not isinstance(first, dict) or first.get("status") != "paid":
                return wrong(
                    f"the last lamp in stock should sell (status 'paid'), got {first!r}."
                )
            steps = _recorded_steps("waitlist-2")
            replay = DBOS.fork_workflow("waitlist-2", start_step=len(steps) + 1)
            try:
                replayed = replay.get_result(polling_interval_sec=0.05)
            except dbos_error.DBOSUnexpectedStepError as error:
                return wrong(
                    f"the replay went down another branch: {error} The stock changed "
                    "between the first run and the replay, and the workflow looked at it "
                    "directly. Look at the stock in a @DBOS.step(), so the replay gets the "
                    "first run's answer from its checkpoint."
                )
            if replayed != first:
                return wrong(
                    f"the replay returned {replayed!r}, the first run {first!r}: the "
                    "workflow is not deterministic. Read the stock in a @DBOS.step()."
                )
            if len(world.charges) != 1:
                return wrong(
                    f"the replay charged again: {world.charges}. Charge in a step."
                )
            return correct(
                "sold out: waitlisted; the last lamp: sold; and the replay took the same "
                "path, from the checkpoints, charging nobody twice."
            )
        finally:
            DBOS.destroy()


# --- exercise 3: predict a crash that is not one -------------------------------------------


class Crash(Exception):
    """The colleague's Crash: an Exception now, no longer a BaseException."""


PREDICTION = {  # key: (what it is, the type of its value)
    "status after the crash": ("a status such as 'PENDING'", str),
    "steps after the crash": ("a list of step names", list),
    "status after the restart": ("a status such as 'PENDING'", str),
    "charges": ("a number, len(world.charges)", int),
    "mails": ("a number, len(world.mails)", int),
    "books in stock": ("a number, shop.STOCK['book']", int),
}


def _run_the_colleagues_test(shop, folder) -> dict:
    """test_recovery.py with Crash(Exception): what it sees at each of the predicted points."""
    seen = {}
    with _fake_world(shop) as (world, patch):
        config = _config(folder, "crash-prediction")
        _fresh_dbos(config)
        try:
            def mail_api_crashes(order_id, text):
                raise Crash("the power went off while mailing the receipt")

            patch.setattr(shop, "mail_api", mail_api_crashes)
            try:
                with SetWorkflowID("order-3"):
                    shop.checkout("order-3", "book", 1)
            except Crash:
                pass
            seen["status after the crash"] = DBOS.get_workflow_status("order-3").status
            seen["steps after the crash"] = _recorded_steps("order-3")
            patch.setattr(shop, "mail_api", world.mail_api)  # the mail server is back
            DBOS.destroy()  # the test's restart(): no reset
            DBOS(config=config)
            DBOS.launch()
            # A PENDING workflow would be recovered within about a second: give it three.
            status = wait_until(
                lambda: (s := DBOS.get_workflow_status("order-3").status) != "PENDING" and s,
                3,
            ) or "PENDING"
            seen["status after the restart"] = status
            seen["charges"] = len(world.charges)
            seen["mails"] = len(world.mails)
            seen["books in stock"] = shop.STOCK["book"]
        finally:
            DBOS.destroy()
    return seen


def _why(key: str, predicted, real, shop) -> str:
    """The cause of one wrong prediction, from what DBOS did."""
    if key == "status after the crash":
        if predicted == "PENDING":
            return (
                "DBOS records the failure of every Exception, and Crash is one now: "
                "send_receipt's error was recorded and checkout ended ERROR, as it would for "
                "a bug. Only a BaseException that is not an Exception (the chapter's Crash, "
                "KeyboardInterrupt) passes through DBOS unrecorded, leaving the workflow "
                "PENDING as a real crash does."
            )
        return (
            "Crash came out of send_receipt, and checkout catches only PaymentDeclined, so "
            "the workflow ended with Crash, recorded, as it would for a bug: ERROR."
        )
    if key == "steps after the crash":
        if predicted == real[:-1]:
            return (
                "send_receipt is recorded too: a step that raises an Exception is "
                "checkpointed with its error (a replay would raise it again rather than mail "
                "twice). Only a BaseException leaves no checkpoint."
            )
        if "release_stock" in predicted:
            return (
                "checkout puts the stock back only for PaymentDeclined, and Crash is not "
                "one: release_stock never ran."
            )
        not_steps = [name for name in predicted
                     if not getattr(getattr(shop, name, None), "dbos_function_name", None)]
        if not_steps:
            return (
                f"DBOS records steps, by their names, and {not_steps[0]} is not a step of "
                "the shop (the steps are reserve_stock, release_stock, charge_card and "
                "send_receipt; the fakes are called inside them)."
            )
        return "the steps DBOS recorded are, in order, the ones checkout called."
    if key == "status after the restart":
        return (
            "launch() recovers PENDING workflows only. An ERROR workflow is finished: the "
            "restart leaves it as it is, runs none of it again, and the test's get_result() "
            "raises the recorded Crash. (Only a fork runs it again: chapter 9.)"
        )
    if key == "charges":
        if predicted < real:
            return (
                "charge_card ran and finished before the mail failed, and nothing undoes a "
                "finished step: the card was charged once."
            )
        return "nothing ran again after the restart, so charge_card ran once: one charge."
    if key == "mails":
        return (
            "no mail went out: the only call of the mail server raised Crash (the fake "
            "records nothing then), and the restart ran nothing again."
        )
    if key == "books in stock":
        if predicted > real:
            return (
                "the book stays reserved: a failed workflow does not undo its steps (DBOS "
                "has no rollback; putting things back is the workflow's own job, a saga in "
                "chapter 7), and checkout releases stock only for PaymentDeclined."
            )
        return "reserve_stock ran once, for one book: 5 - 1."
    return ""


@checker
def check_crash_prediction(prediction, shop) -> Feedback:
    """Run test_recovery.py's steps with Crash(Exception) and compare, value by value."""
    if not isinstance(prediction, dict):
        return wrong("prediction should be the dict of the starter, with its keys filled in.")
    missing = [key for key in PREDICTION if key not in prediction]
    if missing:
        return wrong(f"prediction is missing {missing}: keep the starter's keys.")
    for key, (what, kind) in PREDICTION.items():
        value = prediction[key]
        if not isinstance(value, kind) or isinstance(value, bool) or (
                kind is list and not all(isinstance(v, str) for v in value)):
            return wrong(f"prediction[{key!r}] should be {what}, not {value!r}.")
    guess = {
        key: value.strip().upper() if isinstance(value, str)
        else [v.strip() for v in value] if isinstance(value, list) else value
        for key, value in prediction.items() if key in PREDICTION
    }
    with tempfile.TemporaryDirectory() as folder:
        real = off_the_event_loop(_run_the_colleagues_test, shop, folder,
                                  timeout=CHECK_TIMEOUT)
    differ = [key for key in PREDICTION if guess[key] != real[key]]
    if not differ:
        return correct(
            "Crash is an Exception now, so DBOS recorded it: send_receipt's checkpoint holds "
            "the error and the workflow ended ERROR. The restart recovers PENDING workflows "
            "only, so nothing ran again: one charge, no mail, the book still reserved. The "
            "test fails at its first assert, which is how it tells the colleague."
        )
    lines = [
        f"- {key}: you said {guess[key]!r}, the run saw {real[key]!r}: "
        f"{_why(key, guess[key], real[key], shop)}"
        for key in differ
    ]
    verb = "differs" if len(differ) == 1 else "differ"
    return wrong(f"{len(differ)} of your {len(PREDICTION)} predictions {verb} from the run.\n"
                 + "\n".join(lines))
