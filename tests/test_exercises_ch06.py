"""Chapter 6's checkers, run against real workers, as in the notebook.

A worker script with the chapter's `process_order` workflow and `orders` queue
runs as a child process, version "1" (worker-a). Version "2" (worker-b) is
launched once, so that it is registered, and stopped: the situation of the
roll-back exercise. The submit tests make "1" the latest version again first.
"""

import textwrap
import uuid
from types import SimpleNamespace

import pytest
from dbos import DBOSClient, EnqueueOptions

from booktools import Worker
from booktools.checks import ch06_client
from support import assert_correct, assert_todo, assert_wrong

WORKER = textwrap.dedent(
    """
    import os
    import sys
    import threading

    from dbos import DBOS, DBOSConfig


    @DBOS.step()
    def do_step(name: str, order_id: str) -> str:
        return f"{name} {order_id}"


    @DBOS.workflow()
    def process_order(order_id: str, amount: int) -> str:
        for name in ("reserve_stock", "charge_card", "ship_parcel"):
            do_step(name, order_id)
        return f"{order_id}: {amount} EUR charged, parcel shipped"


    def main(executor_id: str, version: str) -> None:
        config: DBOSConfig = {
            "name": "order-service",
            "system_database_url": os.environ["DBOS_SYSTEM_DATABASE_URL"],
            "application_version": version,
            "executor_id": executor_id,
            "log_level": "ERROR",
            "notification_listener_polling_interval_sec": 0.05,
        }
        DBOS(config=config)
        DBOS.launch()
        DBOS.register_queue("orders", worker_concurrency=4, polling_interval_sec=0.05)
        print("ready", flush=True)
        threading.Event().wait()


    if __name__ == "__main__":
        main(sys.argv[1], sys.argv[2])
    """
)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """worker-a (version "1") running, worker-b (version "2") launched once and stopped."""
    folder = tmp_path_factory.mktemp("ch06")
    (folder / "worker.py").write_text(WORKER)
    env = {"DBOS_SYSTEM_DATABASE_URL": f"sqlite:///{folder / 'dbos_system.sqlite'}"}
    worker_a = Worker("worker.py", "worker-a", "1", cwd=folder, env=env).start()
    worker_b = Worker("worker.py", "worker-b", "2", cwd=folder, env=env)
    try:
        worker_a.wait_for("ready")
        worker_b.start().wait_for("ready")  # registers version "2" as the latest
        worker_b.kill()  # and retires it
        client = DBOSClient(
            system_database_url=env["DBOS_SYSTEM_DATABASE_URL"],
            application_name="order-service",
        )
        yield SimpleNamespace(client=client, worker_a=worker_a)
        client.destroy()
    finally:
        worker_a.kill()
        worker_b.kill()


@pytest.fixture(scope="module")
def client(deployment):
    return deployment.client


@pytest.fixture
def healthy(client):
    """worker-a's version is the latest: it takes version-less work."""
    client.set_latest_application_version("1")
    return client


@pytest.fixture
def stuck_order(client):
    """A version-less order enqueued while the latest version, "2", has no worker."""
    client.set_latest_application_version("2")
    order_id = f"order-{uuid.uuid4().hex[:8]}"
    client.enqueue(
        {"workflow_name": "process_order", "queue_name": "orders", "workflow_id": order_id},
        order_id,
        60,
    )
    return order_id


# --- exercise 1: submit_order -------------------------------------------------


def options_for(order_id, **changes) -> EnqueueOptions:
    options = {"workflow_name": "process_order", "queue_name": "orders", "workflow_id": order_id}
    options.update(changes)
    return {key: value for key, value in options.items() if value is not None}


def retried(enqueue):
    """enqueue(), tried again after a ConnectionError: up to three attempts."""
    for attempt in (1, 2, 3):
        try:
            return enqueue()
        except ConnectionError:
            if attempt == 3:
                raise


def solution(client, order_id, amount):
    return retried(lambda: client.enqueue(options_for(order_id), order_id, amount))


def starter(client, order_id, amount):
    ...  # your code here


def retrying(**changes):
    """A learner's submit_order that retries, with these changes to the right options."""

    def submit_order(client, order_id, amount):
        options = options_for(order_id, **{
            key: value.format(order_id=order_id) if isinstance(value, str) else value
            for key, value in changes.items()
        })  # "{order_id}" in a value is the order's number
        return retried(lambda: client.enqueue(options, order_id, amount))

    return submit_order


def no_retry(client, order_id, amount):
    """The chapter's client.py, transcribed: right on a network that never drops."""
    return client.enqueue(options_for(order_id), order_id, amount)


def random_id_each_try(client, order_id, amount):
    return retried(lambda: client.enqueue(
        options_for(f"{order_id}-{uuid.uuid4().hex[:6]}"), order_id, amount))


def looks_it_up_after_the_error(client, order_id, amount):
    try:
        return client.enqueue(options_for(order_id), order_id, amount)
    except ConnectionError:
        return client.retrieve_workflow(order_id)  # "it must have been written"


def gives_up_quietly(client, order_id, amount):
    try:
        return client.enqueue(options_for(order_id), order_id, amount)
    except ConnectionError:
        return None


def arguments_as_a_tuple(client, order_id, amount):
    return retried(lambda: client.enqueue(options_for(order_id), (order_id, amount)))


def returns_the_result(client, order_id, amount):
    return solution(client, order_id, amount).get_result(polling_interval_sec=0.05)


def forgets_to_return(client, order_id, amount):
    solution(client, order_id, amount)


def uses_the_async_api(client, order_id, amount):
    return client.enqueue_async(options_for(order_id), order_id, amount)


async def is_an_async_def(client, order_id, amount):
    return await client.enqueue_async(options_for(order_id), order_id, amount)


def test_ch06_submit_accepts_the_solution(healthy):
    assert_correct(ch06_client.check_submit_order(solution, healthy))


def test_ch06_submit_accepts_keyword_arguments_and_a_derived_id(healthy):
    def derived(client, order_id, amount):
        options = options_for(order_id, workflow_id=f"checkout-{order_id}")
        return retried(lambda: client.enqueue(options, order_id=order_id, amount=amount))

    assert_correct(ch06_client.check_submit_order(derived, healthy))


def test_ch06_submit_accepts_a_workflow_id_with_a_deduplication_id_too(healthy):
    both = retrying(deduplication_id="{order_id}")  # harmless beside the workflow ID
    assert_correct(ch06_client.check_submit_order(both, healthy))


def test_ch06_submit_without_a_worker_for_the_latest_version_blames_the_set_up(client,
                                                                             monkeypatch):
    """The learner's answer is right; the notebook's workers are not there to run it."""
    monkeypatch.setattr(ch06_client, "WORKER_WAIT", 2)  # a learner waits 10 s for nothing
    client.set_latest_application_version("2")  # worker-b, stopped: nobody takes the order
    feedback = ch06_client.check_submit_order(solution, client)
    assert feedback.status == "setup" and "no worker took them" in feedback.message, feedback


def test_ch06_submit_starter_is_not_done_yet(healthy):
    assert_todo(ch06_client.check_submit_order(starter, healthy))


@pytest.mark.parametrize(
    "submit_order, hint",
    [
        # the chapter's client.py as it is: a lost reply reaches the customer as an error
        (no_retry, "let the ConnectionError out"),
        (retrying(workflow_id=None), "set no workflow_id, so DBOS gave each a new random"),
        (random_id_each_try, "used different workflow IDs"),
        (retrying(workflow_id_reuse_policy="reject"), "\"reject\" refuses the ID even to"),
        # pinned since issue 18: a deduplication ID instead of the workflow ID
        (retrying(workflow_id=None, deduplication_id="{order_id}"),
         "raised DBOSQueueDeduplicatedError: the first enqueue had been written"),
        (retrying(workflow_id=None, deduplication_id="{order_id}",
                  duplication_policy="return-existing"),
         "A deduplication ID guards an order only while it waits or runs"),
        (looks_it_up_after_the_error, "nothing was written, so there was nothing to find"),
        (gives_up_quietly, "caught the ConnectionError and returned None"),
        (retrying(workflow_name="worker.process_order"), "__qualname__"),
        (retrying(queue_name="order"), "no worker listens to"),
        (arguments_as_a_tuple, "arguments after the options"),
        (returns_the_result, "not a workflow handle"),
        (forgets_to_return, "returned None: return the workflow handle"),
        (uses_the_async_api, "returned a coroutine"),
        (is_an_async_def, "should be a plain `def`"),
    ],
)
def test_ch06_submit_explains_wrong_answers(healthy, submit_order, hint):
    assert_wrong(ch06_client.check_submit_order(submit_order, healthy), hint)


# --- exercise 2: roll_back ------------------------------------------------------


def roll_back(client):
    client.set_latest_application_version("1")


def test_ch06_roll_back_accepts_the_solution(client, stuck_order):
    assert_correct(ch06_client.check_roll_back(roll_back, client, stuck_order))
    assert client.retrieve_workflow(stuck_order).get_status().app_version == "1"


def test_ch06_roll_back_starter_is_not_done_yet(client, stuck_order):
    def starter(client):
        ...  # your code here: one call on the client

    assert_todo(ch06_client.check_roll_back(starter, client, stuck_order))


def test_ch06_roll_back_leaves_the_stuck_order_alone_when_wrong(client, stuck_order):
    """A wrong attempt must not cancel the notebook's order 601: the next attempt needs it."""
    ch06_client.check_roll_back(lambda c: None, client, stuck_order)
    assert client.retrieve_workflow(stuck_order).get_status().status == "ENQUEUED"


def make_wrong_roll_backs(order_id):
    return {
        "promotes the retired version": lambda c: c.set_latest_application_version("2"),
        "resumes it": lambda c: c.resume_workflow(order_id),
        "enqueues a pinned copy": lambda c: c.enqueue(
            options_for(f"{order_id}-again", app_version="1"), order_id, 60
        ),
        "cancels it": lambda c: c.cancel_workflow(order_id),
        "forgets await": lambda c: c.set_latest_application_version_async("1") and None,
        "returns the coroutine": lambda c: c.set_latest_application_version_async("1"),
    }


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ("promotes the retired version", "latest version, which is '2'"),
        ("resumes it", "still ENQUEUED"),
        ("enqueues a pinned copy", "you created a new workflow"),
        ("cancels it", "was cancelled"),
        ("forgets await", "called set_latest_application_version_async without `await`"),
        ("returns the coroutine", "use the sync method, set_latest_application_version(...)"),
    ],
)
def test_ch06_roll_back_explains_wrong_answers(client, stuck_order, mistake, hint):
    wrong_roll_back = make_wrong_roll_backs(stuck_order)[mistake]
    assert_wrong(ch06_client.check_roll_back(wrong_roll_back, client, stuck_order), hint)


@pytest.fixture
def worker_a_down(deployment):
    """worker-a killed (as by the Kill button of Crash it yourself), started again after."""
    deployment.worker_a.kill()
    yield deployment.worker_a
    deployment.worker_a.start().wait_for("ready")


def test_ch06_roll_back_with_worker_a_down_cannot_check(client, stuck_order, worker_a_down):
    """The right answer, but nothing can run order 601: say so, and how to start worker-a."""
    feedback = ch06_client.check_roll_back(roll_back, client, stuck_order, worker_a_down)
    assert feedback.status == "setup", feedback
    assert "is not running" in feedback.message and "worker_a.restart()" in feedback.message
    # and it said so at once, without calling the answer: order 601 is still stuck
    assert client.get_latest_application_version()["version_name"] == "2"


def test_ch06_roll_back_with_worker_a_down_unseen_cannot_check(
    client, stuck_order, worker_a_down, monkeypatch
):
    """Called without the worker, the check learns it from the database: the answer made
    version "1" the latest, and still nothing took the order in time."""
    monkeypatch.setattr(ch06_client, "WORKER_WAIT", 2)  # a learner waits 10 s for nothing
    feedback = ch06_client.check_roll_back(roll_back, client, stuck_order)
    assert feedback.status == "setup", feedback
    assert "did not take it within 2 s" in feedback.message, feedback
    assert "worker_a.restart()" in feedback.message, feedback
