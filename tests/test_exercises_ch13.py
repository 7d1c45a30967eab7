"""Chapter 13's checkers accept the solutions and explain typical wrong answers.

Each test gets a fresh DBOS on a SQLite file of its own, with what the chapter sets up before its
exercises: the `orders` queue and table, the `fulfil_order` workflow, and a DBOSClient.
"""

import logging

import pytest
import sqlalchemy as sa
from dbos import DBOS, DBOSClient

from booktools.checks import ch13_production
from booktools.exercises import off_the_event_loop
from support import assert_wrong, checker_config

APP = "ch13-checker-test"


@DBOS.step()
def pack_and_ship(order_id: str) -> str:
    return f"{order_id} shipped"


@DBOS.workflow()
def fulfil_order(order_id: str) -> str:  # the chapter's workflow, under the same name
    return pack_and_ship(order_id)


@pytest.fixture()
def shop(tmp_path):
    url = f"sqlite:///{tmp_path / 'dbos.sqlite'}"
    level = logging.getLogger("dbos").level

    def launch():
        DBOS.destroy()
        # CRITICAL: the checker fails workflows on purpose
        DBOS(config=checker_config(APP, tmp_path / "dbos.sqlite", log_level="CRITICAL"))
        DBOS.launch()
        DBOS.register_queue("orders", polling_interval_sec=0.1)

    off_the_event_loop(launch)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TABLE orders (order_id TEXT PRIMARY KEY, amount INTEGER NOT NULL)"))
    client = DBOSClient(system_database_url=url, application_name=APP)
    yield engine, client
    client.destroy()
    engine.dispose()
    off_the_event_loop(DBOS.destroy)
    logging.getLogger("dbos").setLevel(level)


# --- exercise 1: purge_finished ---------------------------------------------------------


FINISHED = ("SUCCESS", "ERROR", "CANCELLED")


def purge(statuses=FINISHED, *, by="completed_before", children=True, top_level_only=True,
          wait_for_children=True):
    async def purge_finished(cutoff):
        filters = {by: cutoff, "load_input": False, "load_output": False}
        if statuses is not None:
            filters["status"] = list(statuses)
        if top_level_only:
            filters["has_parent"] = False
        old = await DBOS.list_workflows_async(**filters)
        done = []
        for w in old:
            kids = await DBOS.list_workflows_async(parent_workflow_id=w.workflow_id)
            if not wait_for_children or all(k.status in FINISHED for k in kids):
                done.append(w.workflow_id)
        await DBOS.delete_workflows_async(done, delete_children=children)

    return purge_finished


def sync_purge(cutoff):  # the script form is accepted too
    old = DBOS.list_workflows(status=list(FINISHED), completed_before=cutoff,
                              has_parent=False)
    done = [w.workflow_id for w in old
            if all(k.status in FINISHED
                   for k in DBOS.list_workflows(parent_workflow_id=w.workflow_id))]
    DBOS.delete_workflows(done, delete_children=True)


async def purge_starter(cutoff):
    ...


async def purges_nothing(cutoff):
    await DBOS.list_workflows_async(completed_before=cutoff)


def test_ch13_purge_accepts_the_solution(shop):
    assert ch13_production.check_purge_finished(purge()).ok
    assert ch13_production.check_purge_finished(sync_purge).ok


def test_ch13_purge_starter_is_not_done_yet(shop):
    assert ch13_production.check_purge_finished(purge_starter).status == "todo"


@pytest.mark.parametrize(
    "answer, hint",
    [
        (purge(statuses=None, by="end_time"), "still running"),
        (purge(by="end_time"), "finished after it"),
        (purge(wait_for_children=False), "child workflow was still running"),
        (purges_nothing, "nothing that finished before the cutoff"),
        (purge(children=False), "delete_children=True"),
        (purge(statuses=("SUCCESS",)), "ended in ERROR"),
        (purge(statuses=("SUCCESS", "ERROR")), "CANCELLED"),
    ],
)
def test_ch13_purge_explains_wrong_answers(shop, answer, hint):
    assert_wrong(ch13_production.check_purge_finished(answer), hint)


# --- exercise 2: place_order -------------------------------------------------------------

INSERT = sa.text("INSERT INTO orders (order_id, amount) VALUES (:id, :amount)")


def options(order_id, **more):
    return {"workflow_name": "fulfil_order", "queue_name": "orders",
            "workflow_id": f"fulfil-{order_id}", **more}


def place_order(engine, client, order_id, amount):
    with engine.begin() as conn:
        seen = conn.execute(sa.text("SELECT 1 FROM orders WHERE order_id = :id"),
                            {"id": order_id}).first()
        if seen is None:
            conn.execute(INSERT, {"id": order_id, "amount": amount})
            client.enqueue_in_transaction(conn, options(order_id), order_id)
    return f"fulfil-{order_id}"


def catches_the_duplicate(engine, client, order_id, amount):  # as good
    try:
        with engine.begin() as conn:
            conn.execute(INSERT, {"id": order_id, "amount": amount})
            client.enqueue_in_transaction(conn, options(order_id), order_id)
    except sa.exc.IntegrityError:
        pass  # a retry: the first attempt went through
    return f"fulfil-{order_id}"


def no_retry(engine, client, order_id, amount):
    with engine.begin() as conn:
        conn.execute(INSERT, {"id": order_id, "amount": amount})
        client.enqueue_in_transaction(conn, options(order_id), order_id)
    return f"fulfil-{order_id}"


def starter(engine, client, order_id, amount):
    ...


def dual_write(engine, client, order_id, amount):
    with engine.begin() as conn:
        conn.execute(INSERT, {"id": order_id, "amount": amount})
    with engine.begin() as conn:
        client.enqueue_in_transaction(conn, options(order_id), order_id)
    return f"fulfil-{order_id}"


def workflow_first(engine, client, order_id, amount):
    with engine.begin() as conn:
        client.enqueue_in_transaction(conn, options(order_id), order_id)
    with engine.begin() as conn:
        conn.execute(INSERT, {"id": order_id, "amount": amount})
    return f"fulfil-{order_id}"


def plain_enqueue(engine, client, order_id, amount):
    with engine.begin() as conn:
        conn.execute(INSERT, {"id": order_id, "amount": amount})
        client.enqueue(options(order_id), order_id)
    return f"fulfil-{order_id}"


def swallows_the_failure(engine, client, order_id, amount):
    with engine.begin() as conn:
        conn.execute(INSERT, {"id": order_id, "amount": amount})
        try:
            client.enqueue_in_transaction(conn, options(order_id), order_id)
        except Exception:
            pass
    return f"fulfil-{order_id}"


def generated_id(engine, client, order_id, amount):
    with engine.begin() as conn:
        conn.execute(INSERT, {"id": order_id, "amount": amount})
        handle = client.enqueue_in_transaction(
            conn, {"workflow_name": "fulfil_order", "queue_name": "orders"}, order_id)
    return handle.get_workflow_id()


def returns_the_handle(engine, client, order_id, amount):
    with engine.begin() as conn:
        conn.execute(INSERT, {"id": order_id, "amount": amount})
        return client.enqueue_in_transaction(conn, options(order_id), order_id)


def wrong_queue(engine, client, order_id, amount):
    with engine.begin() as conn:
        conn.execute(INSERT, {"id": order_id, "amount": amount})
        client.enqueue_in_transaction(conn, options(order_id, queue_name="order"), order_id)
    return f"fulfil-{order_id}"


def test_ch13_outbox_accepts_the_solution(shop):
    assert ch13_production.check_place_order(place_order, *shop).ok
    assert ch13_production.check_place_order(catches_the_duplicate, *shop).ok


def test_ch13_outbox_starter_is_not_done_yet(shop):
    assert ch13_production.check_place_order(starter, *shop).status == "todo"


@pytest.mark.parametrize(
    "answer, hint",
    [
        (dual_write, "the order was committed on its own"),
        (workflow_first, "the workflow was committed on its own"),
        (plain_enqueue, "client.enqueue commits the workflow at once"),
        (swallows_the_failure, "yet both were committed"),
        (generated_id, "enqueued under the ID"),
        (returns_the_handle, "return the workflow's ID"),
        (wrong_queue, "did not run to SUCCESS"),
        (no_retry, "raised IntegrityError"),
    ],
)
def test_ch13_outbox_explains_wrong_answers(shop, answer, hint):
    assert_wrong(ch13_production.check_place_order(answer, *shop), hint)
