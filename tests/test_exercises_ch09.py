"""Chapter 9's checkers accept the solutions and explain typical wrong answers.

Both checkers run the learner's code against a real DBOS, so each test gets a
fresh DBOS on a SQLite file of its own.
"""

import logging

import pytest
from dbos import DBOS, SetWorkflowID

from booktools.checks import ch09_operations
from support import checker_config


@pytest.fixture()
def dbos(tmp_path):
    DBOS.destroy()
    # CRITICAL: the checkers fail workflows on purpose
    DBOS(config=checker_config("ch09-checker-test", tmp_path / "dbos.sqlite",
                               log_level="CRITICAL"))
    DBOS.launch()
    yield
    DBOS.destroy()
    logging.getLogger("dbos").setLevel(logging.WARNING)


# --- exercise 1: rerun_from_failed_step --------------------------------------


def first_failed_step(workflow_id):
    steps = DBOS.list_workflow_steps(workflow_id)
    return next(s["function_id"] for s in steps if s["error"] is not None)


async def solution(workflow_id):
    steps = await DBOS.list_workflow_steps_async(workflow_id)
    failed_step = next(s["function_id"] for s in steps if s["error"] is not None)
    with SetWorkflowID(f"{workflow_id}-rerun"):
        handle = await DBOS.fork_workflow_async(workflow_id, failed_step)
    return handle.get_workflow_id()


def sync_solution(workflow_id):  # the script form is accepted too
    with SetWorkflowID(f"{workflow_id}-rerun"):
        handle = DBOS.fork_workflow(workflow_id, first_failed_step(workflow_id))
    return handle.get_workflow_id()


async def starter(workflow_id):
    ...


async def fork_from_start(workflow_id):
    with SetWorkflowID(f"{workflow_id}-rerun"):
        handle = await DBOS.fork_workflow_async(workflow_id, 1)
    return handle.get_workflow_id()


async def fork_after_failure(workflow_id):
    with SetWorkflowID(f"{workflow_id}-rerun"):
        handle = await DBOS.fork_workflow_async(workflow_id, 4)
    return handle.get_workflow_id()


async def resume_instead(workflow_id):
    handle = await DBOS.resume_workflow_async(workflow_id)
    return handle.get_workflow_id()


async def unnamed_fork(workflow_id):
    handle = await DBOS.fork_workflow_async(workflow_id, 3)
    return handle.get_workflow_id()


async def forgets_to_return(workflow_id):
    with SetWorkflowID(f"{workflow_id}-rerun"):
        await DBOS.fork_workflow_async(workflow_id, 3)


def test_ch09_fork_accepts_the_solution(dbos):
    assert ch09_operations.check_rerun_from_failed_step(solution).ok
    assert ch09_operations.check_rerun_from_failed_step(sync_solution).ok


def test_ch09_fork_starter_is_not_done_yet(dbos):
    assert ch09_operations.check_rerun_from_failed_step(starter).status == "todo"


@pytest.mark.parametrize(
    "answer, hint",
    [
        (fork_from_start, "payment was taken 2 times"),
        (fork_after_failure, "started after the step that failed"),
        (resume_instead, "resume_workflow does nothing"),
        (unnamed_fork, "under a generated ID"),
        (forgets_to_return, "did not return"),
    ],
)
def test_ch09_fork_explains_wrong_answers(dbos, answer, hint):
    feedback = ch09_operations.check_rerun_from_failed_step(answer)
    assert feedback.status == "wrong" and hint in feedback.message, feedback


# --- exercise 2: safe_to_retire -------------------------------------------------


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


async def ignores_version(application_name, version):
    found = await DBOS.list_workflows_async(
        application_name=application_name, status=["PENDING", "ENQUEUED", "DELAYED"]
    )
    return not found


def test_ch09_retire_accepts_the_solution(dbos):
    answer = listing(["PENDING", "ENQUEUED", "DELAYED"])
    assert ch09_operations.check_safe_to_retire(answer).ok


def test_ch09_retire_starter_is_not_done_yet(dbos):
    assert ch09_operations.check_safe_to_retire(retire_starter).status == "todo"


@pytest.mark.parametrize(
    "answer, hint",
    [
        (listing(["ENQUEUED", "DELAYED"]), "PENDING workflow"),
        (listing(["PENDING", "DELAYED"]), "ENQUEUED workflow"),
        (listing(["PENDING", "ENQUEUED"]), "DELAYED"),
        (listing(["PENDING", "ENQUEUED", "DELAYED"], with_application=False),
         "application_name"),
        (any_workflow_blocks, "have all ended"),
        (ignores_version, "Filter by app_version"),
    ],
)
def test_ch09_retire_explains_wrong_answers(dbos, answer, hint):
    feedback = ch09_operations.check_safe_to_retire(answer)
    assert feedback.status == "wrong" and hint in feedback.message, feedback
