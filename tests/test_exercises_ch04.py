"""Chapter 4's checkers accept the solutions and explain typical wrong answers.

Both checkers use DBOS for real, so the tests launch DBOS on a SQLite file of their own.
"""

import time

import pytest
from dbos import DBOS, SetEnqueueOptions, SetWorkflowID

from booktools.checks import ch04_queues
from booktools.exercises import off_the_event_loop
from support import assert_correct, assert_todo, assert_wrong, launched_dbos


@DBOS.step()
def fetch_balance(account_id: str) -> str:
    time.sleep(0.3)
    return f"{account_id}: balance fetched"


@DBOS.workflow()
def refresh_account(account_id: str) -> str:
    return fetch_balance(account_id)


def register_the_chapter_s_queues():
    DBOS.register_queue("refresh", worker_concurrency=2, polling_interval_sec=0.1)
    DBOS.register_queue("elsewhere", polling_interval_sec=0.1)


@pytest.fixture(scope="module", autouse=True)
def dbos(tmp_path_factory):
    database = tmp_path_factory.mktemp("ch04") / "checks.sqlite"
    with launched_dbos("ch04-checks", database, after_launch=register_the_chapter_s_queues):
        yield


# --- exercise 1: mail_queue_options --------------------------------------------

GOOD_OPTIONS = {
    "worker_concurrency": 2,
    "limiter": {"limit": 5, "period": 2},
    "polling_interval_sec": 0.1,
}


def test_mail_options_accepts_the_solution():
    assert_correct(ch04_queues.check_mail_queue_options(GOOD_OPTIONS))


@pytest.mark.parametrize("limiter", [{"limit": 5, "period": 2.5}, {"limit": 4, "period": 2}])
def test_mail_options_accepts_a_safety_margin(limiter):
    """The chapter's rate-limiting section advises a margin over a strict sliding window."""
    assert_correct(ch04_queues.check_mail_queue_options(options(limiter=limiter)))


def test_mail_options_starter_is_not_done_yet():
    assert_todo(ch04_queues.check_mail_queue_options(...))
    assert_todo(ch04_queues.check_mail_queue_options({"worker_concurrency": ...}))


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
        (options(limiter={"limit": 3, "period": 1.2}), "lets 6 starts into one 2-second window"),
        (options(limiter={"limit": 10, "period": 4}), "limit is at most 5"),  # bursts of 10
        (options(limiter={"limit": 5, "period": 4}), "wastes much of it"),
    ],
)
def test_mail_options_explains_wrong_answers(answer, hint):
    assert_wrong(ch04_queues.check_mail_queue_options(answer), hint)


def test_mail_options_leaves_no_queue_behind():
    ch04_queues.check_mail_queue_options(GOOD_OPTIONS)
    assert off_the_event_loop(lambda: DBOS.retrieve_queue(ch04_queues.MAIL_QUEUE)) is None


# --- exercise 2: submit_refresh ----------------------------------------------------


def solution(account_id: str):
    with SetEnqueueOptions(deduplication_id=account_id, duplication_policy="return-existing",
                           priority=10):
        return DBOS.enqueue_workflow("refresh", refresh_account, account_id)


def test_refresh_accepts_the_solution():
    assert_correct(ch04_queues.check_submit_refresh(solution))


def test_refresh_starter_is_not_done_yet():
    def starter(account_id: str):
        ...

    assert_todo(ch04_queues.check_submit_refresh(starter))


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


def without_priority(account_id):  # the chapter's request_export, transcribed
    with SetEnqueueOptions(deduplication_id=account_id, duplication_policy="return-existing"):
        return DBOS.enqueue_workflow("refresh", refresh_account, account_id)


def returns_the_result(account_id):
    with SetEnqueueOptions(deduplication_id=account_id, duplication_policy="return-existing"):
        return DBOS.enqueue_workflow("refresh", refresh_account, account_id).get_result()


def forgets_to_return(account_id):
    with SetEnqueueOptions(deduplication_id=account_id, duplication_policy="return-existing"):
        DBOS.enqueue_workflow("refresh", refresh_account, account_id)


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
        (returns_the_result, "returned str 'acct-"),
        (forgets_to_return, "submit_refresh() returned None"),
        (without_priority, "counts as 0, the highest"),
    ],
)
def test_refresh_explains_wrong_answers(answer, hint):
    assert_wrong(ch04_queues.check_submit_refresh(answer), hint)
