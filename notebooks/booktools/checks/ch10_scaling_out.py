"""Checkers for chapter 10, Scaling out.

check_make_worker_config calls the learner's function for several slots, and
again as after a restart (another process ID, a later time), and compares the
executor IDs. check_fleet_prediction reads a prediction (data), then runs the
scene for real on the notebook's worker processes (a partitioned queue of its
own, two tenants' backlogs) and compares the most running at once, measured
from each order's start and end, with the prediction. check_move_on sets a real
scene with the notebook's worker processes (three long orders, one per worker,
then SIGKILL for one worker in the middle of its order), calls the learner's
function, and reads the outcome from the system database and the workers' ledger.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path
from typing import Any, Callable
from unittest import mock

from ..exercises import (
    Feedback, cannot_check, checker, correct, environment_variable, off_the_event_loop, todo,
    wait_until, wrong,
)
from ..ledger import read_ledger
from ..timeline import Span, by_group, max_running

VARIABLE = "DBOS_SYSTEM_DATABASE_URL"
SERVER_URL = "postgresql://orders:secret@db.internal:5432/orders"
FALLBACK_URL = "sqlite:///orders.sqlite"
NAME_RULE = re.compile(r"^[a-z0-9_-]{3,256}$")
CHECK_QUEUE = "ch10-move-on-check"


# --- Exercise 1: executor IDs --------------------------------------------------


@checker
def check_make_worker_config(make_worker_config) -> Feedback:
    def make_worker_config_(slot: int) -> Any:
        return off_the_event_loop(make_worker_config, slot, timeout=10)

    with environment_variable(VARIABLE, None):
        first = make_worker_config_(0)
    if first is None or first is ...:
        return todo()
    if not isinstance(first, dict):
        return wrong("make_worker_config should return a DBOSConfig, a dict.")

    slots = (0, 1, 2)
    with environment_variable(VARIABLE, None):
        configs = {slot: make_worker_config_(slot) for slot in slots}
    ids = {slot: config.get("executor_id") for slot, config in configs.items()}
    if any(value is None for value in ids.values()):
        return wrong(
            "the config has no executor_id, so every worker is 'local'. A restarted worker "
            "would then recover every PENDING workflow of the application, including those "
            "that the other, live workers are running."
        )
    if len(set(ids.values())) < len(slots):
        return wrong(
            f"slots 0, 1 and 2 got the executor IDs {sorted(map(str, ids.values()))}: two "
            "workers share an ID, so when one restarts it recovers the other's live work. "
            "Put the slot number in the ID."
        )

    time.sleep(0.02)  # a later start; and below, another process
    with environment_variable(VARIABLE, None), mock.patch("os.getpid", return_value=os.getpid() + 4242):
        restarted = {slot: make_worker_config_(slot) for slot in slots}
    for slot in slots:
        again = restarted[slot].get("executor_id")
        if again != ids[slot]:
            return wrong(
                f"slot {slot} got the executor ID {ids[slot]!r}, and {again!r} when it "
                "started again. A process recovers only the work of its own ID, so the "
                "restarted worker would never find its predecessor's PENDING workflows. "
                "Build the ID from the slot alone, not from the process ID, a random "
                "UUID or the time."
            )

    name = first.get("name")
    if name != "order-service":
        hint = (" DBOS would reject it: 3-256 characters of a-z, 0-9, '-' and '_'."
                if not (isinstance(name, str) and NAME_RULE.match(name)) else "")
        return wrong(f"the name should be 'order-service', not {name!r}: workers share "
                     f"queues only with processes of the same application.{hint}")
    versions = {config.get("application_version") for config in configs.values()}
    if versions != {"orders-1"}:
        return wrong(
            "application_version should be 'orders-1' in every slot, not "
            f"{sorted(map(str, versions))}: a worker dequeues and recovers only workflows "
            "of its own version."
        )
    with environment_variable(VARIABLE, SERVER_URL):
        with_server = make_worker_config_(1)
    if with_server.get("system_database_url") != SERVER_URL:
        return wrong(
            f"with {VARIABLE} set, system_database_url should be its value, but it was "
            f"{with_server.get('system_database_url')!r}. Read the variable inside the "
            "function, with os.environ.get."
        )
    if first.get("system_database_url") != FALLBACK_URL:
        return wrong(f"with {VARIABLE} unset, system_database_url should fall back to "
                     f"{FALLBACK_URL!r}, not {first.get('system_database_url')!r}.")
    return correct(
        f"executor IDs {', '.join(repr(ids[s]) for s in slots)}: one per slot, the same "
        "after a restart, so a restarted (or replacement) worker recovers exactly its own "
        "work."
    )


# --- Exercise 2: predict what the fleet runs at once ----------------------------------

PREDICT_QUEUE = "ch10-predict-check"
PREDICT_LIMITS = {"worker_concurrency": 2, "partition_concurrency": 4,
                  "partition_worker_concurrency": 1}
TENANTS = ("acme", "globex")
ORDERS_PER_TENANT, ORDER_SECONDS = 8, 1.0  # the check's scene: a backlog of one-second orders
PREDICTED = ("in total", "on one worker", "for one tenant")


def _start_stopped(workers: dict) -> None:
    for executor_id, worker in workers.items():
        if not worker.running:
            worker.start()
            worker.wait_for(f"{executor_id} ready")


def _fleet_run(workflow: Callable, orders_per_tenant: int, seconds: float) -> dict[str, int]:
    """The scene, for real: both tenants' backlogs on the check's queue; the most running at
    once, from each order's start and end as the workflow returns them."""
    from dbos import DBOS, SetEnqueueOptions

    is_new = DBOS.retrieve_queue(PREDICT_QUEUE) is None
    queue = DBOS.register_queue(PREDICT_QUEUE, **PREDICT_LIMITS, polling_interval_sec=0.1)
    if is_new:
        time.sleep(1.2)  # every process looks for new queues about once a second
    tag = uuid.uuid4().hex[:8]
    handles = []
    for n in range(1, orders_per_tenant + 1):
        for tenant in TENANTS:
            with SetEnqueueOptions(queue_partition_key=tenant):
                handles.append(
                    queue.enqueue(workflow, f"predict-{tag}-{tenant}-{n}", seconds))
    results = [h.get_result(polling_interval_sec=0.05) for h in handles]
    spans = [Span(r["order"], r["start"], r["end"], r["executor"]) for r in results]
    by_tenant = [Span(s.label, s.start, s.end, s.label.split("-")[2]) for s in spans]
    return {
        "in total": max_running(spans),
        "on one worker": max(max_running(g) for g in by_group(spans).values()),
        "for one tenant": max(max_running(g) for g in by_group(by_tenant).values()),
    }


def _filled_fleet_run(workflow: Callable, orders_per_tenant: int, seconds: float,
                      expected: dict[str, int], tries: int = 4) -> tuple[dict[str, int], bool]:
    """The scene's figures, run again if a busy machine kept the fleet from filling up to
    `expected`; whether it ever did."""
    measured: dict[str, int] = {}
    for _ in range(tries):
        measured = off_the_event_loop(_fleet_run, workflow, orders_per_tenant, seconds,
                                      timeout=60)
        if measured == expected:
            return measured, True
    return measured, False


def _expected(workers: int) -> dict[str, int]:
    """What the limits allow, and what a fleet with backlogs in both tenants reaches."""
    per_worker = min(PREDICT_LIMITS["worker_concurrency"],
                     len(TENANTS) * PREDICT_LIMITS["partition_worker_concurrency"])
    per_tenant = min(PREDICT_LIMITS["partition_concurrency"],
                     workers * PREDICT_LIMITS["partition_worker_concurrency"])
    return {"in total": min(workers * per_worker, len(TENANTS) * per_tenant),
            "on one worker": per_worker, "for one tenant": per_tenant}


_WHY = {
    "in total": {
        2: "worker_concurrency=2 is counted by each process: three workers run 2 each.",
        3: "partition_worker_concurrency=1 is one order of each tenant on a worker, not one "
           "order: with two tenants waiting, each worker runs one of each, 2 per worker.",
        4: "partition_concurrency=4 is a limit for each tenant, not for the queue, and the "
           "queue has no global_concurrency: the total is what the three workers may run, "
           "2 each (worker_concurrency).",
        8: "two tenants times partition_concurrency=4 is what the tenants' limits would "
           "allow, but worker_concurrency=2 stops each of the three workers first.",
        12: "partition_concurrency=4 is for each tenant across the fleet, not for each "
            "worker; each worker is stopped at worker_concurrency=2.",
    },
    "on one worker": {
        1: "partition_worker_concurrency=1 is one order of each tenant on a worker, not one "
           "order in all: with two tenants waiting, a worker runs one of each.",
        3: "3 is the most for one tenant (across the workers); one worker is stopped at "
           "worker_concurrency=2.",
        4: "partition_concurrency=4 limits a tenant across the fleet; it never raises a "
           "worker's own limit, worker_concurrency=2.",
        6: "6 is the whole fleet: worker_concurrency=2 is the limit of each process.",
    },
    "for one tenant": {
        1: "partition_worker_concurrency=1 is counted by each process, as worker_concurrency "
           "is: one order of the tenant on each of the three workers.",
        2: "worker_concurrency=2 limits a worker, not a tenant; each of the three workers "
           "runs one order of the tenant (partition_worker_concurrency=1).",
        4: "partition_concurrency=4 is a ceiling the fleet never reaches here: each worker "
           "may hold one order of a tenant (partition_worker_concurrency=1), and there are "
           "three workers. The per-process limit times the processes binds first.",
        6: "6 is the whole fleet, both tenants together; a worker holds at most one order "
           "of a tenant (partition_worker_concurrency=1), and there are three workers.",
    },
}


_GENERALLY = {
    "in total": "Each of the three workers runs at most worker_concurrency=2 (one order of "
                "each tenant), and nothing limits the queue as a whole.",
    "on one worker": "worker_concurrency=2 caps each process, and the two tenants, one order "
                     "each (partition_worker_concurrency=1), fill it.",
    "for one tenant": "One order of the tenant on each worker (partition_worker_concurrency=1), "
                      "three workers; partition_concurrency=4 is never reached.",
}


@checker(needs_dbos=True)
def check_fleet_prediction(prediction, workers: dict, workflow: Callable, *,
                           orders_per_tenant: int = ORDERS_PER_TENANT,
                           seconds: float = ORDER_SECONDS) -> Feedback:
    """`prediction` maps the three PREDICTED keys to numbers; `workers` maps executor IDs to
    booktools.Worker objects of the application; `workflow(order, seconds)` returns a dict
    with the order, its start and end times and the executor that ran it."""
    if not isinstance(prediction, dict):
        return wrong("prediction should be a dict with the keys " + ", ".join(
            repr(k) for k in PREDICTED) + ", each a whole number.")
    missing = [k for k in PREDICTED if k not in prediction]
    extra = [k for k in prediction if k not in PREDICTED]
    if missing or extra:
        return wrong(f"prediction should have exactly the keys {list(PREDICTED)}; "
                     f"missing {missing}, unexpected {extra}.")
    not_numbers = [k for k in PREDICTED if isinstance(prediction[k], bool)
                   or not isinstance(prediction[k], int)]
    if not_numbers:
        return wrong(f"each prediction is a whole number (a count of orders running at "
                     f"once); {not_numbers} is not.")

    _start_stopped(workers)
    expected = _expected(len(workers))
    measured, filled = _filled_fleet_run(workflow, orders_per_tenant, seconds, expected)
    if not filled:
        return cannot_check(
            f"the fleet never filled up (measured {measured}, where the limits allow "
            f"{expected}): the machine was too busy, or a worker was stopped. Run the check "
            "again.")
    figures = (f"{measured['in total']} in total, {measured['on one worker']} on one "
               f"worker, {measured['for one tenant']} for one tenant")
    misses = [k for k in PREDICTED if prediction[k] != measured[k]]
    if not misses:
        return correct(
            f"the three workers ran {figures}, as you said: worker_concurrency and "
            "partition_worker_concurrency are counted by each process, so they multiply "
            "with the fleet, and partition_concurrency=4 was never reached.")
    reasons = []
    for key in misses:
        why = _WHY[key].get(prediction[key], _GENERALLY[key])
        reasons.append(f"{key.capitalize()}: you said {prediction[key]}, the fleet ran "
                       f"{measured[key]}. " + why)
    return wrong(" ".join(reasons).strip() + f" (Measured: {figures}.)")


# --- Exercise 3: moving a dead executor's work on ---------------------------------


def _call(move_on: Callable, executor_id: str) -> Any:
    return off_the_event_loop(move_on, executor_id, timeout=60)


def _statuses(workflow_ids: list[str]) -> dict:
    from dbos import DBOS

    found = DBOS.list_workflows(workflow_ids=workflow_ids)
    return {w.workflow_id: w for w in found}


@checker(needs_dbos=True)
def check_move_on(move_on, workers: dict, workflow: Callable, *, ledger: str | Path,
                  dead: str = "worker-3", seconds: float = 2.0,
                  finish_timeout: float = 20) -> Feedback:
    """`workers` maps executor IDs to running booktools.Worker objects of the
    application; `workflow(order, seconds)` is its workflow; `ledger` is the file
    where the workflow notes '<order> <executor> <time>' as it starts."""
    from dbos import DBOS, SetWorkflowID

    nothing = _call(move_on, "no-such-executor")
    if nothing is None or nothing is ...:
        return todo()
    if not isinstance(nothing, list) or nothing:
        return wrong(f"for an executor with no work, move_on should return [], not "
                     f"{nothing!r}: the list of the workflow IDs it moved on.")

    # The scene: every worker up, three long orders (one per worker), one worker killed.
    for executor_id, worker in workers.items():
        if not worker.running:
            worker.start()
            worker.wait_for(f"{executor_id} ready")
    tag = uuid.uuid4().hex[:8]
    orders = [f"move-on-{tag}-{n}" for n in range(1, len(workers) + 1)]

    def enqueue_orders():
        queue = DBOS.register_queue(CHECK_QUEUE, worker_concurrency=1,
                                    polling_interval_sec=0.05)
        for order in orders:
            with SetWorkflowID(order):
                queue.enqueue(workflow, order, seconds)

    off_the_event_loop(enqueue_orders)
    line = workers[dead].wait_for(f"{dead} started move-on-{tag}", timeout=30)
    workers[dead].kill()
    stranded = line.split()[-1]
    live = [order for order in orders if order != stranded]

    def live_ones_claimed() -> bool:
        found = _statuses(live)
        return all(found[o].status == "PENDING" and found[o].executor_id != dead for o in live)

    if not off_the_event_loop(wait_until, live_ones_claimed, 20):
        return wrong("the check could not set the scene (the live workers did not take their "
                     "orders within 20 s), so it could not judge your code: run it again.")
    before = off_the_event_loop(lambda: _statuses(orders))

    moved = _call(move_on, dead)

    after = off_the_event_loop(lambda: _statuses(orders))
    touched = [o for o in live if after[o].status == "ENQUEUED"
               or after[o].dequeued_at != before[o].dequeued_at
               or after[o].executor_id != before[o].executor_id]
    if touched:
        return wrong(
            f"move_on({dead!r}) also put back workflows that live workers were running "
            f"({len(touched)} of them): each now runs twice at once. Move only the PENDING "
            "workflows whose executor_id is the dead executor's."
        )
    if not isinstance(moved, list) or sorted(moved) != [stranded]:
        return wrong(
            f"move_on({dead!r}) returned {moved!r}; it should return the IDs of the "
            f"workflows it moved on: here the one PENDING workflow of {dead}."
        )
    finished = off_the_event_loop(
        wait_until, lambda: _statuses([stranded])[stranded].status == "SUCCESS", finish_timeout)
    final = off_the_event_loop(lambda: _statuses(orders))
    if not finished:
        return wrong(
            f"{dead}'s order is still {final[stranded].status} {finish_timeout:.0f} s later: "
            "nothing put it "
            "back on a queue. Resume it: DBOS.resume_workflow_async(workflow_id, "
            "queue_name=...)."
        )
    if final[stranded].queue_name != CHECK_QUEUE:
        return wrong(
            f"{dead}'s order was finished, but on the queue {final[stranded].queue_name!r}, "
            f"not on its own ({CHECK_QUEUE!r}), so its queue's limits did not apply to it. "
            "Pass queue_name=workflow.queue_name to resume_workflow_async."
        )
    # Let the live orders finish, then read the evidence.
    off_the_event_loop(
        wait_until, lambda: all(w.status == "SUCCESS" for w in _statuses(orders).values()), 20)
    starts = [line.split()[0] for line in read_ledger(ledger)]
    twice = [o for o in orders if starts.count(o) > 1]
    if twice != [stranded]:
        return wrong(f"orders started more than once: {twice}; expected only {dead}'s "
                     "interrupted order, started again after it was moved on.")
    return correct(
        f"{dead}'s interrupted order was put back on its queue and finished by a live "
        "worker; the orders the live workers were running were left alone, and each "
        "started once."
    )
