"""Chapter 11's checkers accept the solutions and explain typical wrong answers.

Both checkers run workflows for real and count committed writes, so the tests launch
DBOS on a SQLite file of their own. cost_lab.measure, the chapter's lesson package, is
imported first: it registers the workflows that check_design_writes runs.
"""

from pathlib import Path

import pytest
from dbos import DBOS

from booktools import timing
from booktools.checks import ch11_costs
from booktools.exercises import off_the_event_loop
from cost_lab.measure import add_step, steps_workflow  # registers cost_lab's workflows
from support import assert_todo, assert_wrong, launched_dbos

WAREHOUSE: dict[str, Path] = {}  # set by the fixture


def store_rows(rows: list[str]) -> None:
    with open(WAREHOUSE["path"], "a") as warehouse:
        warehouse.writelines(row + "\n" for row in rows)


# --- the solution and typical wrong answers, as a learner would write them ---------


@DBOS.step()
def ch11_save_rows(rows: list[str]) -> None:
    store_rows(rows)


@DBOS.workflow()
def ch11_import_in_one_step(rows: list[str]) -> int:
    ch11_save_rows(rows)
    return len(rows)


def ch11_starter(rows: list[str]) -> int:
    ...


@DBOS.step()
def ch11_save_row(row: str) -> None:
    store_rows([row])


@DBOS.workflow()
def ch11_import_row_by_row(rows: list[str]) -> int:  # the chapter's first version
    for row in rows:
        ch11_save_row(row)
    return len(rows)


@DBOS.workflow()
def ch11_import_without_a_step(rows: list[str]) -> int:
    store_rows(rows)  # saved by the workflow itself: nothing records it
    return len(rows)


def ch11_import_undecorated(rows: list[str]) -> int:
    ch11_save_rows(rows)
    return len(rows)


@DBOS.workflow()
def ch11_import_twice(rows: list[str]) -> int:
    ch11_save_rows(rows)
    ch11_save_rows(rows)
    return len(rows)


@DBOS.workflow()
def ch11_import_returns_nothing(rows: list[str]) -> None:
    ch11_save_rows(rows)


@pytest.fixture(scope="module", autouse=True)
def dbos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ch11")
    WAREHOUSE["path"] = folder / "warehouse.txt"
    with launched_dbos("ch11-checks", folder / "checks.sqlite"):
        yield


# --- exercise 1: one step for the batch ----------------------------------------------


def test_batched_import_accepts_the_solution():
    feedback = ch11_costs.check_batched_import(ch11_import_in_one_step, WAREHOUSE["path"])
    assert feedback.ok and "3 committed writes" in feedback.message, feedback


def test_batched_import_starter_is_not_done_yet():
    assert_todo(ch11_costs.check_batched_import(ch11_starter, WAREHOUSE["path"]))


@pytest.mark.parametrize(
    "workflow, hint",
    [
        (ch11_import_row_by_row, "ran 50 steps"),
        (ch11_import_without_a_step, "without a step"),
        (ch11_import_undecorated, "not as a workflow"),
        (ch11_import_twice, "duplicated"),
        (ch11_import_returns_nothing, "return the number of rows"),
    ],
)
def test_batched_import_explains_wrong_answers(workflow, hint):
    assert_wrong(ch11_costs.check_batched_import(workflow, WAREHOUSE["path"]), hint)


# --- exercise 2: predict the writes of two designs -------------------------------------

A, B = ch11_costs.DESIGN_A, ch11_costs.DESIGN_B


def test_design_writes_accepts_the_right_prediction():
    feedback = ch11_costs.check_design_writes({A: 12, B: 30})
    assert feedback.ok and "A is cheaper" in feedback.message, feedback


def test_design_writes_starter_is_not_done_yet():
    assert_todo(ch11_costs.check_design_writes({A: ..., B: ...}))


@pytest.mark.parametrize(
    "prediction, hint",
    [
        ({A: 10, B: 10}, "records its start and its end"),  # only the steps
        ({A: 12, B: 20}, "A is right"),  # one workflow's overhead counted once in B
        ({A: 11, B: 30}, "B is right"),
        ({A: 40, B: 20}, "one workflow costs more than ten"),
        ({A: 12}, "no key"),
        ({A: 12.0, B: 30}, "whole number"),
    ],
)
def test_design_writes_explains_wrong_predictions(prediction, hint):
    assert_wrong(ch11_costs.check_design_writes(prediction), hint)


def test_count_writes_sees_two_per_workflow_and_one_per_step():
    def count():
        return {n: timing.writes_for(steps_workflow, n) for n in (0, 1, 5)}

    assert off_the_event_loop(count) == {0: 2, 1: 3, 5: 7}
    # a step outside a workflow is a plain call
    assert off_the_event_loop(lambda: timing.writes_for(add_step, 1)) == 0


def test_format_ms_never_uses_exponents():
    for value in (1234.5, 12.34, 1.234, 0.01234, 0.0000123):
        text = timing.format_ms(value)
        assert "e" not in text and text.endswith(" ms") and "." in text, text
    assert timing.format_ratio(0.0001) == "1/10,000"
    assert timing.format_ratio(3.14) == "3.1x"


def test_batched_import_check_can_run_again():
    # Each check runs the workflow under a fresh ID, so re-running the cell works.
    first = ch11_costs.check_batched_import(ch11_import_in_one_step, WAREHOUSE["path"])
    second = ch11_costs.check_batched_import(ch11_import_in_one_step, WAREHOUSE["path"])
    assert first.ok and second.ok
