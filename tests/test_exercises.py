"""Each exercise checker accepts the solution and explains typical wrong answers.

The solutions themselves run through their checkers inside the notebooks (nbval
compares the ✅ line); these tests pin down the feedback for wrong answers.
"""

import os

import pytest

from booktools.checks import ch00_why, ch01_lifecycle
from booktools.exercises import dbos_is_running
from support import assert_wrong, changed_config, launched_dbos

# --- chapter 0: predict the ledger -------------------------------------------

ORDER_7 = [f"{step} order-7" for step in ch00_why.STEPS]


def test_ch00_accepts_the_right_prediction():
    assert ch00_why.check_prediction(ORDER_7).ok


def test_ch00_starter_is_not_done_yet():
    assert ch00_why.check_prediction(...).status == "todo"


@pytest.mark.parametrize(
    "prediction, hint",
    [
        (["reserve_stock order-7"] + ORDER_7, "does not run it again"),  # thinks DBOS redoes finished steps
        ([line for line in ORDER_7 if "charge" not in line], "runs charge_card again"),  # thinks the step is lost
        (ORDER_7[:2] + ["charge_card order-7"] + ORDER_7[2:], "only the restart's run"),  # counts the killed run
        (ORDER_7[:2], "all five steps"),  # forgets the restart finishes the workflow
    ],
)
def test_ch00_explains_wrong_predictions(prediction, hint):
    assert_wrong(ch00_why.check_prediction(prediction), hint)


# --- chapter 1: make_config() --------------------------------------------------


def good_config():
    return {
        "name": "invoice-mailer",
        "system_database_url": os.environ.get("DBOS_SYSTEM_DATABASE_URL", "sqlite:///invoice_mailer.sqlite"),
        "application_version": "1.0",
        "log_level": "WARNING",
    }


def test_ch01_accepts_the_solution():
    assert ch01_lifecycle.check_make_config(good_config).ok


def test_ch01_check_leaves_the_learner_s_dbos_running(tmp_path):
    with launched_dbos("ch01-checks", tmp_path / "ch01.sqlite"):
        ch01_lifecycle.check_make_config(with_changes(name="Invoice Mailer"))
        assert dbos_is_running()


def test_ch01_starter_is_not_done_yet():
    def starter():
        ...

    assert ch01_lifecycle.check_make_config(starter).status == "todo"


def with_changes(**changes):
    def make_config():
        return changed_config(good_config(), changes)

    return make_config


def forgets_to_return():
    config = good_config()  # noqa: F841 - built, never returned


def uses_os_environ_index():
    return {**good_config(), "system_database_url": os.environ["DBOS_SYSTEM_DATABASE_URL"]}


@pytest.mark.parametrize(
    "make_config, hint",
    [
        (with_changes(name="Invoice Mailer"), "DBOS rejects the name"),
        (with_changes(name="my-app"), "not Invoice Mailer's"),
        (with_changes(system_database_url="sqlite:///invoice_mailer.sqlite"), "do not hard-code"),
        (uses_os_environ_index, "raised KeyError"),
        (with_changes(application_version=None), "not pinned"),
        (with_changes(log_level="INFO"), "log_level should be 'WARNING'"),
        (with_changes(name="im"), "DBOS rejects the name"),  # under 3 characters
        (forgets_to_return, "returned None"),
    ],
)
def test_ch01_explains_wrong_configs(make_config, hint):
    assert_wrong(ch01_lifecycle.check_make_config(make_config), hint)
