"""Chapter 10's checkers accept the solutions and explain typical wrong answers.

check_make_worker_config needs no database. check_move_on sets a real scene: the tests
start three worker processes of a small application on a SQLite file of their own, and
launch DBOS in this process (listening to no queue, as the chapter's notebook does).
"""

import importlib.util
import os
import socket
import time
import uuid

import pytest
from dbos import DBOS

from booktools import Worker
from booktools.checks import ch10_scaling_out

from booktools.exercises import off_the_event_loop, wait_until
from support import assert_correct, assert_todo, assert_wrong, changed_config

# --- exercise 1: make_worker_config ------------------------------------------------------


def config_with(executor_id):
    def make_worker_config(slot):
        return {
            "name": "order-service",
            "system_database_url": os.environ.get("DBOS_SYSTEM_DATABASE_URL",
                                                  "sqlite:///orders.sqlite"),
            "application_version": "orders-1",
            "executor_id": executor_id(slot),
            "log_level": "WARNING",
        }

    return make_worker_config


def test_executor_ids_accept_the_solution():
    assert_correct(ch10_scaling_out.check_make_worker_config(
        config_with(lambda s: f"order-worker-{s}")))


def test_executor_ids_starter_is_not_done_yet():
    def starter(slot):
        ...

    assert_todo(ch10_scaling_out.check_make_worker_config(starter))


def with_changes(**changes):
    base = config_with(lambda s: f"order-worker-{s}")

    def make_worker_config(slot):
        return changed_config(base(slot), changes)

    return make_worker_config


@pytest.mark.parametrize(
    "make_worker_config, hint",
    [
        (config_with(lambda s: f"worker-{os.getpid()}-{s}"), "when it started again"),
        (config_with(lambda s: f"worker-{uuid.uuid4()}"), "when it started again"),
        (config_with(lambda s: f"worker-{time.time_ns()}-{s}"), "when it started again"),
        (config_with(lambda s: socket.gethostname()), "two workers share an ID"),
        (with_changes(executor_id=None), "no executor_id"),
        (with_changes(name="Order Service"), "DBOS would reject it"),
        (with_changes(application_version=None), "application_version should be 'orders-1'"),
        (with_changes(system_database_url="sqlite:///orders.sqlite"), "should be its value"),
    ],
)
def test_executor_ids_explain_wrong_configs(make_worker_config, hint):
    assert_wrong(ch10_scaling_out.check_make_worker_config(make_worker_config), hint)


# --- exercise 3: move_on, with real workers ------------------------------------------------

WORKER_SCRIPT = '''
import os, sys, time
from pathlib import Path
from dbos import DBOS

HERE = Path(__file__).resolve().parent
ANNOUNCE = False


@DBOS.step()
def ch10_check_pack(order: str, seconds: float) -> dict:
    start = time.time()
    with open(HERE / "started.txt", "a") as ledger:
        ledger.write(f"{order} {DBOS.executor_id} {start}\\n")
    if ANNOUNCE:
        print(f"{DBOS.executor_id} started {order}", flush=True)
    time.sleep(seconds)
    return {"order": order, "start": start, "end": time.time(),
            "executor": DBOS.executor_id}


@DBOS.workflow()
def ch10_check_order(order: str, seconds: float = 0.5) -> dict:
    return ch10_check_pack(order, seconds)


if __name__ == "__main__":
    ANNOUNCE = True
    DBOS(config={
        "name": "ch10-checks",
        "system_database_url": os.environ["DBOS_SYSTEM_DATABASE_URL"],
        "application_version": "ch10-checks",
        "executor_id": sys.argv[1],
        "log_level": "WARNING",
        "notification_listener_polling_interval_sec": 0.05,
    })
    DBOS.launch()
    print(f"{sys.argv[1]} ready", flush=True)
    while True:
        time.sleep(1)
'''


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ch10")
    script = folder / "ch10_check_worker.py"
    script.write_text(WORKER_SCRIPT)
    url = f"sqlite:///{folder / 'checks.sqlite'}"
    spec = importlib.util.spec_from_file_location("ch10_check_worker", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # registers the workflow in this process too

    def launch():
        DBOS.destroy()
        DBOS(config={
            "name": "ch10-checks",
            "system_database_url": url,
            "application_version": "ch10-checks",
            "log_level": "WARNING",
            "notification_listener_polling_interval_sec": 0.05,
        })
        DBOS.listen_queues([])  # like the notebook: only the workers dequeue
        DBOS.launch()

    off_the_event_loop(launch)
    workers = {eid: Worker(script.name, eid, cwd=folder,
                           env={"DBOS_SYSTEM_DATABASE_URL": url})
               for eid in ("worker-1", "worker-2", "worker-3")}
    for worker in workers.values():
        worker.start()
    for eid, worker in workers.items():
        worker.wait_for(f"{eid} ready")
    yield workers, module.ch10_check_order, folder / "started.txt"
    for worker in workers.values():
        worker.kill()
    off_the_event_loop(DBOS.destroy)


def wait_until_idle(timeout=30):
    """A wrong answer can leave workflows running twice: let them finish first."""
    def busy():
        return DBOS.list_workflows(status=["PENDING", "ENQUEUED"])

    off_the_event_loop(wait_until, lambda: not busy(), timeout, 0.1, timeout=timeout + 10)


def check(fleet, move_on):
    workers, workflow, ledger = fleet
    feedback = ch10_scaling_out.check_move_on(move_on, workers, workflow, ledger=ledger,
                                              seconds=1.5, finish_timeout=8)
    # Tidy up after a wrong answer: move on what it left, let everything finish.
    off_the_event_loop(solution, "worker-3")
    wait_until_idle()
    return feedback


async def solution(executor_id):
    stranded = await DBOS.list_workflows_async(status="PENDING", executor_id=executor_id)
    for workflow in stranded:
        await DBOS.resume_workflow_async(workflow.workflow_id, queue_name=workflow.queue_name)
    return [workflow.workflow_id for workflow in stranded]


def test_move_on_accepts_the_solution(fleet):
    assert_correct(check(fleet, solution))


def test_move_on_accepts_a_sync_solution(fleet):
    def sync_solution(executor_id):  # the script form: the checker calls it off the loop
        stranded = DBOS.list_workflows(status="PENDING", executor_id=executor_id)
        for workflow in stranded:
            DBOS.resume_workflow(workflow.workflow_id, queue_name=workflow.queue_name)
        return [workflow.workflow_id for workflow in stranded]

    assert_correct(check(fleet, sync_solution))


def test_move_on_starter_is_not_done_yet(fleet):
    async def starter(executor_id):
        ...

    assert_todo(ch10_scaling_out.check_move_on(starter, *fleet[:2], ledger=fleet[2]))


async def resume_every_pending(executor_id):  # forgets the executor filter
    stranded = await DBOS.list_workflows_async(status="PENDING")
    for workflow in stranded:
        await DBOS.resume_workflow_async(workflow.workflow_id, queue_name=workflow.queue_name)
    return [workflow.workflow_id for workflow in stranded]


async def resume_on_the_internal_queue(executor_id):  # forgets queue_name
    stranded = await DBOS.list_workflows_async(status="PENDING", executor_id=executor_id)
    for workflow in stranded:
        await DBOS.resume_workflow_async(workflow.workflow_id)
    return [workflow.workflow_id for workflow in stranded]


async def only_lists(executor_id):  # finds the work, moves nothing
    stranded = await DBOS.list_workflows_async(status="PENDING", executor_id=executor_id)
    return [workflow.workflow_id for workflow in stranded]


@pytest.mark.parametrize(
    "move_on, hint",
    [
        (resume_every_pending, "live workers were running"),
        (resume_on_the_internal_queue, "not on its own"),
        (only_lists, "nothing put it back on a queue"),
    ],
)
def test_move_on_explains_wrong_answers(fleet, move_on, hint):
    assert_wrong(check(fleet, move_on), hint)


# --- exercise 2: predict what the fleet runs at once ----------------------------------------
# The check runs the scene for real on the fleet (about 2 s a run), so each answer below is
# judged against what three workers measurably did.

RIGHT = {"in total": 6, "on one worker": 2, "for one tenant": 3}


def predict(fleet, prediction):
    workers, workflow, _ = fleet
    return ch10_scaling_out.check_fleet_prediction(prediction, workers, workflow)


@pytest.fixture(scope="module")
def fleet_measured_once(fleet):
    """The fleet's figures from a real run of the check's scene, filled up as the check
    requires (again if a busy machine kept it from filling, as the check does)."""
    workers, workflow, _ = fleet
    expected = ch10_scaling_out._expected(len(workers))
    measured, filled = ch10_scaling_out._filled_fleet_run(
        workflow, ch10_scaling_out.ORDERS_PER_TENANT, ch10_scaling_out.ORDER_SECONDS, expected)
    if not filled:
        pytest.fail(f"the fleet never filled up: measured {measured}, the limits allow {expected}")
    return measured


def test_fleet_prediction_accepts_the_solution(fleet):
    assert_correct(predict(fleet, dict(RIGHT)))


def test_fleet_prediction_starter_is_not_done_yet(fleet):
    starter = {"in total": ..., "on one worker": ..., "for one tenant": ...}
    assert_todo(predict(fleet, starter))


def test_fleet_prediction_restarts_a_stopped_worker_first(fleet):
    workers = fleet[0]
    workers["worker-3"].kill()
    assert_correct(predict(fleet, dict(RIGHT)))
    assert workers["worker-3"].running


@pytest.mark.parametrize(
    "prediction, hint",
    [
        ([6, 2, 3], "should be a dict"),
        ({"in total": 6, "on one worker": 2}, "missing ['for one tenant']"),
        ({**RIGHT, "for one tenant": "3"}, "whole number"),
    ],
)
def test_fleet_prediction_explains_the_shape_before_running(fleet, prediction, hint):
    assert_wrong(predict(fleet, prediction), hint)


@pytest.mark.parametrize(
    "change, hint",
    [
        # worker_concurrency taken for a limit of the whole fleet
        ({"in total": 2}, "counted by each process: three workers run 2 each"),
        # one order per worker, forgetting that partition_worker_concurrency is per tenant
        ({"in total": 3}, "one order of each tenant on a worker, not one order"),
        # partition_concurrency taken for a limit of the whole queue
        ({"in total": 4}, "a limit for each tenant, not for the queue"),
        # two tenants at partition_concurrency each, ignoring the per-process limit
        ({"in total": 8}, "stops each of the three workers first"),
        # partition_worker_concurrency taken for a limit on the whole worker
        ({"on one worker": 1}, "not one order in all"),
        # partition_concurrency taken for a per-worker allowance
        ({"on one worker": 4}, "never raises a worker's own limit"),
        # partition_concurrency taken as what happens, not as a ceiling
        ({"for one tenant": 4}, "per-process limit times the processes binds first"),
        # partition_worker_concurrency taken for a fleet-wide limit
        ({"for one tenant": 1}, "counted by each process, as worker_concurrency is"),
        # worker_concurrency taken for a limit on a tenant
        ({"for one tenant": 2}, "limits a worker, not a tenant"),
    ],
)
def test_fleet_prediction_explains_wrong_predictions(fleet, fleet_measured_once, monkeypatch,
                                                   change, hint):
    # The fleet is measured for real in the tests above; these judge answers against it.
    monkeypatch.setattr(ch10_scaling_out, "_fleet_run", lambda *args: fleet_measured_once)
    feedback = predict(fleet, {**RIGHT, **change})
    assert_wrong(feedback, hint)
    assert "Measured: 6 in total, 2 on one worker, 3 for one tenant" in feedback.message
