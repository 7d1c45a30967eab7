"""Chapter 4's checkers accept the solutions and explain typical wrong answers.

Both checkers use DBOS for real, so the tests launch DBOS on a SQLite file of their own.
"""

import time

import pytest
from dbos import DBOS, SetEnqueueOptions, SetWorkflowID

from booktools.checks import ch04_queues
from support import checker_config


@DBOS.step()
def fetch_balance(account_id: str) -> str:
    time.sleep(0.3)
    return f"{account_id}: balance fetched"


@DBOS.workflow()
def refresh_account(account_id: str) -> str:
    return fetch_balance(account_id)


# Other tests in the session (Playwright's sync API) may leave an event loop running in
# this thread, where DBOS refuses blocking calls: make them on a thread of their own.
from booktools.exercises import off_the_event_loop  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def launched_dbos(tmp_path_factory):
    database = tmp_path_factory.mktemp("ch04") / "checks.sqlite"

    def launch():
        DBOS.destroy()
        DBOS(config=checker_config("ch04-checks", database))
        DBOS.launch()
        DBOS.register_queue("refresh", polling_interval_sec=0.1)
        DBOS.register_queue("elsewhere", polling_interval_sec=0.1)

    off_the_event_loop(launch)
    yield
    off_the_event_loop(DBOS.destroy)


# --- exercise 1: mail_queue_options --------------------------------------------

GOOD_OPTIONS = {
    "worker_concurrency": 2,
    "limiter": {"limit": 5, "period": 2},
    "polling_interval_sec": 0.1,
}


def test_mail_options_accepts_the_solution():
    feedback = ch04_queues.check_mail_queue_options(GOOD_OPTIONS)
    assert feedback.ok, feedback


def test_mail_options_starter_is_not_done_yet():
    assert ch04_queues.check_mail_queue_options(...).status == "todo"
    assert ch04_queues.check_mail_queue_options({"worker_concurrency": ...}).status == "todo"


def options(**changes):
    result = dict(GOOD_OPTIONS)
    for key, value in changes.items():
        if value is None:
            result.pop(key)
        else:
            result[key] = value
    return result


@pytest.mark.parametrize(
    "answer, hint",
    [
        (options(worker_concurrency=None, global_concurrency=2), "caps all processes together"),
        (options(limiter={"limit": 2, "period": 5}), "swapped"),
        (options(limiter={"limit": 5, "period": 1}), "period is the window in seconds"),
        (options(limiter=None), "add a limiter"),
        (options(limiter={"limit": 5}), "exactly two keys"),
        (options(worker_concurrency=None, concurrency=2), "deprecated"),
        (options(rate_limit=5), "has no argument 'rate_limit'"),
        (options(worker_concurrency=3), "lets one process open 3"),
        (options(global_concurrency=1), "DBOS refused"),  # worker limit above the global one
        (options(polling_interval_sec=None), "polling_interval_sec=0.1"),
    ],
)
def test_mail_options_explains_wrong_answers(answer, hint):
    feedback = ch04_queues.check_mail_queue_options(answer)
    assert feedback.status == "wrong" and hint in feedback.message, feedback


def test_mail_options_leaves_no_queue_behind():
    ch04_queues.check_mail_queue_options(GOOD_OPTIONS)
    assert off_the_event_loop(lambda: DBOS.retrieve_queue(ch04_queues.MAIL_QUEUE)) is None


# --- exercise 2: submit_refresh ----------------------------------------------------


def solution(account_id: str):
    with SetEnqueueOptions(deduplication_id=account_id, duplication_policy="return-existing"):
        return DBOS.enqueue_workflow("refresh", refresh_account, account_id)


def test_refresh_accepts_the_solution():
    feedback = ch04_queues.check_submit_refresh(solution)
    assert feedback.ok, feedback


def test_refresh_starter_is_not_done_yet():
    def starter(account_id: str):
        ...

    assert ch04_queues.check_submit_refresh(starter).status == "todo"


def no_deduplication(account_id):
    return DBOS.enqueue_workflow("refresh", refresh_account, account_id)


def raises_on_duplicates(account_id):
    with SetEnqueueOptions(deduplication_id=account_id):
        return DBOS.enqueue_workflow("refresh", refresh_account, account_id)


def one_id_for_everyone(account_id):
    with SetEnqueueOptions(deduplication_id="refresh", duplication_policy="return-existing"):
        return DBOS.enqueue_workflow("refresh", refresh_account, account_id)


def workflow_id_instead(account_id):
    with SetWorkflowID(f"refresh-{account_id}"):
        return DBOS.enqueue_workflow("refresh", refresh_account, account_id)


def not_queued(account_id):
    return DBOS.start_workflow(refresh_account, account_id)


def wrong_queue(account_id):
    with SetEnqueueOptions(deduplication_id=account_id, duplication_policy="return-existing"):
        return DBOS.enqueue_workflow("elsewhere", refresh_account, account_id)


@pytest.mark.parametrize(
    "answer, hint",
    [
        (no_deduplication, "started two refreshes"),
        (raises_on_duplicates, "return-existing"),
        (one_id_for_everyone, "another account got the first account's refresh"),
        (workflow_id_instead, "returned the old refresh"),
        (not_queued, "went to no queue"),
        (wrong_queue, "the 'elsewhere' queue"),
    ],
)
def test_refresh_explains_wrong_answers(answer, hint):
    feedback = ch04_queues.check_submit_refresh(answer)
    assert feedback.status == "wrong" and hint in feedback.message, feedback
