"""Chapter 9's checkers accept the solutions and explain typical wrong answers.

Both checkers run the learner's code against a real DBOS, so each test gets a fresh DBOS on a
SQLite file of its own (support.launched_dbos).
"""

import asyncio

import pytest
from dbos import DBOS, SetWorkflowID

from booktools.checks import ch09_operations
from support import assert_correct, assert_todo, assert_wrong, launched_dbos


@pytest.fixture()
def dbos(tmp_path):
    database = tmp_path / "dbos.sqlite"
    # CRITICAL: the checkers fail workflows on purpose
    with launched_dbos("ch09-checker-test", database, log_level="CRITICAL"):
        yield f"sqlite:///{database}"


# --- exercise 1: rerun_from_failed_step --------------------------------------


def start_step(steps):
    """The solution's rule: the failed step, or the step after the last recorded one."""
    failed = [s["function_id"] for s in steps if s["error"] is not None]
    return failed[0] if failed else max(s["function_id"] for s in steps) + 1


async def solution(workflow_id):
    steps = await DBOS.list_workflow_steps_async(workflow_id)
    with SetWorkflowID(f"{workflow_id}-rerun"):
        handle = await DBOS.fork_workflow_async(workflow_id, start_step(steps))
    return handle.get_workflow_id()


def sync_solution(workflow_id):  # the script form is accepted too
    with SetWorkflowID(f"{workflow_id}-rerun"):
        handle = DBOS.fork_workflow(workflow_id, start_step(DBOS.list_workflow_steps(workflow_id)))
    return handle.get_workflow_id()


async def after_the_last_step(workflow_id):  # right for both: len(steps) + 1
    steps = await DBOS.list_workflow_steps_async(workflow_id)
    failed = [s["function_id"] for s in steps if s["error"] is not None]
    step = failed[0] if failed else len(steps) + 1
    with SetWorkflowID(f"{workflow_id}-rerun"):
        handle = await DBOS.fork_workflow_async(workflow_id, step)
    return handle.get_workflow_id()


async def starter(workflow_id):
    ...


def forking_from(pick):
    async def rerun_from_failed_step(workflow_id):
        steps = await DBOS.list_workflow_steps_async(workflow_id)
        with SetWorkflowID(f"{workflow_id}-rerun"):
            handle = await DBOS.fork_workflow_async(workflow_id, pick(steps))
        return handle.get_workflow_id()

    return rerun_from_failed_step


# the chapter's cell, transcribed: the first step with an error (none for the booking)
chapter_cell = forking_from(lambda steps: next(s["function_id"] for s in steps
                                               if s["error"] is not None))
# the failed step's position in the list, from enumerate, instead of its function_id
enumerate_index = forking_from(lambda steps: next(i for i, s in enumerate(steps)
                                                  if s["error"] is not None))
# the booking's own steps counted, DBOS's recv and sleep forgotten: hold_room, then "step 2"
own_steps_counted = forking_from(
    lambda steps: next((s["function_id"] for s in steps if s["error"] is not None), 2))
fork_from_start = forking_from(lambda steps: 1)
fork_after_failure = forking_from(lambda steps: len(steps) + 1)


async def resume_instead(workflow_id):
    handle = await DBOS.resume_workflow_async(workflow_id)
    return handle.get_workflow_id()


async def unnamed_fork(workflow_id):
    handle = await DBOS.fork_workflow_async(
        workflow_id, start_step(await DBOS.list_workflow_steps_async(workflow_id)))
    return handle.get_workflow_id()


async def forgets_to_return(workflow_id):
    with SetWorkflowID(f"{workflow_id}-rerun"):
        await DBOS.fork_workflow_async(
            workflow_id, start_step(await DBOS.list_workflow_steps_async(workflow_id)))


async def returns_the_handle(workflow_id):
    with SetWorkflowID(f"{workflow_id}-rerun"):
        return await DBOS.fork_workflow_async(
            workflow_id, start_step(await DBOS.list_workflow_steps_async(workflow_id)))


@pytest.mark.parametrize("answer", [solution, sync_solution, after_the_last_step])
def test_ch09_fork_accepts_the_solutions(dbos, answer):
    assert_correct(ch09_operations.check_rerun_from_failed_step(answer))


def test_ch09_checks_run_from_a_cell(dbos):
    async def cell():  # a notebook cell: its thread runs an event loop
        return (ch09_operations.check_rerun_from_failed_step(solution),
                ch09_operations.check_safe_to_retire(listing(UNFINISHED), dbos))

    for feedback in asyncio.run(cell()):
        assert_correct(feedback)


def test_ch09_fork_starter_is_not_done_yet(dbos):
    assert_todo(ch09_operations.check_rerun_from_failed_step(starter))


def test_ch09_fork_from_the_enumerate_index_says_function_id_starts_at_1(dbos):
    feedback = ch09_operations.check_rerun_from_failed_step(enumerate_index)
    assert_wrong(feedback, "payment was taken 2 times")
    assert "the numbers start at 1" in feedback.message


@pytest.mark.parametrize(
    "answer, hint",
    [
        (fork_from_start, "payment was taken 2 times"),
        (fork_after_failure, "started after the step that failed"),
        (resume_instead, "resume_workflow does nothing"),
        (unnamed_fork, "under a generated ID"),
        (forgets_to_return, "did not return"),
        (returns_the_handle, "return the new workflow's ID (a str"),
        (chapter_cell, "The booking failed in the workflow's own code"),
        (own_steps_counted, "the fork waited for the guest's answer again"),
    ],
)
def test_ch09_fork_explains_wrong_answers(dbos, answer, hint):
    assert_wrong(ch09_operations.check_rerun_from_failed_step(answer), hint)


# --- exercise 2: safe_to_retire -------------------------------------------------

UNFINISHED = ["PENDING", "ENQUEUED", "DELAYED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"]


def listing(statuses, *, with_application=True):
    async def safe_to_retire(application_name, version):
        filters = {"app_version": version, "status": statuses}
        if with_application:
            filters["application_name"] = application_name
        return not await DBOS.list_workflows_async(**filters)

    return safe_to_retire


async def retire_starter(application_name, version):
    ...


async def any_workflow_blocks(application_name, version):
    found = await DBOS.list_workflows_async(
        application_name=application_name, app_version=version
    )
    return not found


async def not_ended_blocks(application_name, version):  # right too: everything not ended
    found = await DBOS.list_workflows_async(application_name=application_name,
                                            app_version=version)
    return not [w for w in found if w.status not in ("SUCCESS", "ERROR", "CANCELLED")]


async def ignores_version(application_name, version):
    found = await DBOS.list_workflows_async(
        application_name=application_name, status=UNFINISHED
    )
    return not found


@pytest.mark.parametrize("answer", [listing(UNFINISHED), not_ended_blocks])
def test_ch09_retire_accepts_the_solutions(dbos, answer):
    assert_correct(ch09_operations.check_safe_to_retire(answer, dbos))


def test_ch09_retire_starter_is_not_done_yet(dbos):
    assert_todo(ch09_operations.check_safe_to_retire(retire_starter, dbos))


def test_ch09_retire_refuses_a_dead_letter_as_finished(dbos):
    # The chapter's cell: PENDING, ENQUEUED, DELAYED. A parked workflow is left behind.
    feedback = ch09_operations.check_safe_to_retire(
        listing(["PENDING", "ENQUEUED", "DELAYED"]), dbos)
    assert_wrong(feedback, "parked in MAX_RECOVERY_ATTEMPTS_EXCEEDED")
    assert "resume_workflow keeps its application version" in feedback.message


@pytest.mark.parametrize(
    "answer, hint",
    [
        (listing(["ENQUEUED", "DELAYED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"]), "PENDING workflow"),
        (listing(["PENDING", "DELAYED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"]), "ENQUEUED workflow"),
        (listing(["PENDING", "ENQUEUED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"]), "DELAYED"),
        (listing(UNFINISHED, with_application=False), "application_name"),
        (listing(UNFINISHED + ["CANCELLED"]), "CANCELLED is a decision already taken"),
        (any_workflow_blocks, "were all cancelled"),
        (ignores_version, "Filter by app_version"),
    ],
)
def test_ch09_retire_explains_wrong_answers(dbos, answer, hint):
    assert_wrong(ch09_operations.check_safe_to_retire(answer, dbos), hint)


# --- exercise 0: predict a fork ---------------------------------------------------


@pytest.fixture()
def packing(dbos, tmp_path):
    """The chapter's pack_order (a step, DBOS.sleep, two steps; its own code writes a line
    too), registered in the test's DBOS, and its ledger."""
    ledger = tmp_path / "pack_ledger.txt"

    def note(line):
        with open(ledger, "a") as file:
            file.write(line + "\n")

    @DBOS.step()
    def pick_items(order_id):
        note(f"pick_items {order_id}")
        return 3

    @DBOS.step()
    def print_label(order_id):
        note(f"print_label {order_id}")
        return f"label for {order_id}"

    @DBOS.step()
    def call_courier(order_id):
        note(f"call_courier {order_id}")

    @DBOS.workflow()
    def pack_order(order_id):
        note(f"pack_order {order_id}")
        items = pick_items(order_id)
        DBOS.sleep(0.1)
        label = print_label(order_id)
        call_courier(order_id)
        return f"{order_id}: {items} items, {label}"

    return pack_order, ledger


RAN = ["pack_order", "print_label", "call_courier"]
LISTED = ["pick_items", "DBOS.sleep", "print_label", "call_courier"]


def prediction(ledger=RAN, fork_steps=LISTED):
    return {"ledger": list(ledger), "fork_steps": list(fork_steps)}


def test_ch09_predict_fork_accepts_the_solution(packing):
    assert_correct(ch09_operations.check_fork_prediction(prediction(), *packing))


def test_ch09_predict_fork_starter_is_not_done_yet(packing):
    starter = {"ledger": ..., "fork_steps": ...}
    assert_todo(ch09_operations.check_fork_prediction(starter, *packing))


@pytest.mark.parametrize(
    "answer, hint",
    [
        # the workflow's own code forgotten: a fork runs the function from its first line
        (prediction(ledger=["print_label", "call_courier"]), "runs the workflow function from its"),
        # the copied steps thought to run again
        (prediction(ledger=["pack_order", "pick_items", "print_label", "call_courier"]),
         "pick_items did not run again"),
        (prediction(ledger=["pick_items", "print_label", "call_courier"]),
         "pick_items did not run again"),
        # step 3 counted among the learner's own steps (DBOS.sleep forgotten), or as copied
        (prediction(ledger=["pack_order", "call_courier"]), "DBOS.sleep is recorded as a step"),
        (prediction(ledger=["call_courier"]), "first step that runs, not the last one copied"),
        # the fork's list thought to hold only what ran
        (prediction(fork_steps=["print_label", "call_courier"]), "has its copied steps too"),
        (prediction(fork_steps=["pick_items", "print_label", "call_courier"]),
         "DBOS.sleep is recorded as a step"),
        (prediction(fork_steps=["pack_order"] + LISTED), "not one of its own steps"),
        # the shape
        ({"ledger": RAN}, 'two keys, "ledger" and "fork_steps"'),
        ({"ledger": "pack_order print_label call_courier", "fork_steps": LISTED},
         "list of str"),
    ],
)
def test_ch09_predict_fork_explains_wrong_answers(packing, answer, hint):
    assert_wrong(ch09_operations.check_fork_prediction(answer, *packing), hint)


def test_ch09_predict_fork_explains_both_fields_when_both_are_wrong(packing):
    """A learner who forgets the workflow's own line and the copied steps hears of both."""
    answer = prediction(ledger=["print_label", "call_courier"],
                        fork_steps=["print_label", "call_courier"])
    feedback = ch09_operations.check_fork_prediction(answer, *packing)
    assert_wrong(feedback, "runs the workflow function from its")
    assert_wrong(feedback, "And in fork_steps: the fork's step list has its copied steps too")


def test_ch09_predict_fork_check_runs_from_a_cell(packing):
    async def cell():  # a notebook cell: its thread runs an event loop
        return ch09_operations.check_fork_prediction(prediction(), *packing)

    assert_correct(asyncio.run(cell()))
