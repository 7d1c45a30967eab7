"""Chapter 3's checkers accept the solutions and explain typical wrong answers.

Both checkers run the learner's code with DBOS, so this module starts a fresh
DBOS on a temporary SQLite file, with a shop database and its datasource. The
exercises' props are the chapter's, copied here as the chapter defines them.
"""

import pytest
import sqlalchemy as sa
from dbos import DBOS, SQLAlchemyDatasource

from booktools.checks import ch03_steps
from support import assert_correct, assert_todo, assert_wrong, launched_dbos


class InventoryError(Exception):
    """What the inventory service raises: status 503 (busy) or 409 (out of stock)."""

    def __init__(self, status: int, reason: str):
        super().__init__(f"{status} {reason}")
        self.status = status


class RefundError(Exception):
    """What the refund service raises when it is down."""

    def __init__(self, status: int, reason: str):
        super().__init__(f"{status} {reason}")
        self.status = status


class RefundService:
    """A stand-in for a refund provider: down (503) for its first call, then it refunds."""

    def __init__(self) -> None:
        self.reset()

    def reset(self, outage: int = 1) -> None:
        self.outage = outage
        self.refunds: list[tuple[str, int]] = []

    def issue(self, order_id: str, amount: int) -> str:
        if self.outage > 0:
            self.outage -= 1
            raise RefundError(503, "Service Unavailable")
        self.refunds.append((order_id, amount))
        return f"rf_{len(self.refunds)}"

    def refunds_for(self, order_id: str) -> int:
        return sum(1 for order, _ in self.refunds if order == order_id)


@pytest.fixture(scope="module")
def shop_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ch03")
    shop_url = f"sqlite:///{folder / 'shop.sqlite'}"
    engine = sa.create_engine(shop_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE refunds (order_id TEXT, amount INTEGER, refund_id TEXT)"))
    datasources = []
    # ERROR: the retries log warnings with tracebacks
    with launched_dbos("ch03-checker-tests", folder / "dbos_system.sqlite", log_level="ERROR",
                       before_launch=lambda: datasources.append(
                           SQLAlchemyDatasource.create(shop_url))):
        yield datasources[0]
    engine.dispose()


# --- exercise 1: retry options -----------------------------------------------


def worth_retrying(error):
    return not (isinstance(error, InventoryError) and error.status == 409)


SOLUTION = {
    "retries_allowed": True,
    "max_attempts": 4,
    "interval_seconds": 0.05,
    "backoff_rate": 2.0,
    "should_retry": worth_retrying,
}


def test_ch03_retry_options_accepts_the_solution(shop_db):
    assert_correct(ch03_steps.check_reserve_options(SOLUTION, InventoryError))


def test_ch03_retry_options_accepts_the_default_backoff(shop_db):
    options = {key: value for key, value in SOLUTION.items() if key != "backoff_rate"}
    assert_correct(ch03_steps.check_reserve_options(options, InventoryError))


def test_ch03_retry_options_starter_is_not_done_yet():
    assert_todo(ch03_steps.check_reserve_options(..., InventoryError))


@pytest.mark.parametrize(
    "changes, hint",
    [
        ({"retries_allowed": None}, "retries are off"),
        ({"max_attempts": 3}, "counts the first attempt too"),  # three retries, not attempts
        ({"max_attempts": 5}, "at most 4 attempts"),
        ({"interval_seconds": None}, "the default is 1.0"),
        ({"backoff_rate": 1.0}, "twice the one before"),
        ({"should_retry": None}, "add 'should_retry'"),
        ({"should_retry": lambda error: False}, "was not retried"),  # refuses 503 too
        ({"should_retry": lambda error: True}, "until the retries ran out"),  # lets 409 through
        ({"should_retry": lambda error: getattr(error, "status", 0) != 503},
         "was not retried"),  # inverted
        # reads .status of every exception: a dropped connection has none
        ({"should_retry": lambda error: error.status != 409},
         "should_retry receives every exception the step raises"),
        ({"should_retry": lambda error: isinstance(error, InventoryError)
          and error.status != 409}, "a dropped connection (ConnectionError) was not retried"),
    ],
)
def test_ch03_retry_options_explains_wrong_answers(shop_db, changes, hint):
    options = dict(SOLUTION)
    for key, value in changes.items():
        if value is None:
            options.pop(key)
        else:
            options[key] = value
    assert_wrong(ch03_steps.check_reserve_options(options, InventoryError), hint)


def test_ch03_retry_options_rejects_a_non_dict():
    assert_wrong(ch03_steps.check_reserve_options([("max_attempts", 4)], InventoryError),
                 "dictionary")


# --- exercise 2: a refund, exactly once ---------------------------------------

INSERT = sa.text("INSERT INTO refunds VALUES (:order_id, :amount, :refund_id)")


def row(order_id, amount, refund_id):
    return {"order_id": order_id, "amount": amount, "refund_id": refund_id}


def solution(shop_db, service):
    @DBOS.step(retries_allowed=True, max_attempts=3, interval_seconds=0.01)
    def issue_refund(order_id, amount):
        return service.issue(order_id, amount)

    @shop_db.transaction()
    def record_refund(order_id, amount, refund_id):
        shop_db.sql_session().execute(INSERT, row(order_id, amount, refund_id))

    @DBOS.workflow()
    def refund_order(order_id, amount):
        refund_id = issue_refund(order_id, amount)
        record_refund(order_id, amount, refund_id)
        return refund_id

    return refund_order


def test_ch03_refund_accepts_the_solution(shop_db):
    service = RefundService()
    assert_correct(ch03_steps.check_refund_order(solution(shop_db, service), service, shop_db))


def test_ch03_refund_starter_is_not_done_yet(shop_db):
    def issue_refund(order_id, amount):
        ...

    def refund_order(order_id, amount):
        ...

    service = RefundService()
    assert_todo(ch03_steps.check_refund_order(refund_order, service, shop_db))


def no_retries(shop_db, service):
    @DBOS.step()
    def issue_refund(order_id, amount):
        return service.issue(order_id, amount)

    @shop_db.transaction()
    def record_refund(order_id, amount, refund_id):
        shop_db.sql_session().execute(INSERT, row(order_id, amount, refund_id))

    @DBOS.workflow()
    def refund_order(order_id, amount):
        refund_id = issue_refund(order_id, amount)
        record_refund(order_id, amount, refund_id)
        return refund_id

    return refund_order


def refund_in_workflow_body(shop_db, service):
    @shop_db.transaction()
    def record_refund(order_id, amount, refund_id):
        shop_db.sql_session().execute(INSERT, row(order_id, amount, refund_id))

    @DBOS.workflow()
    def refund_order(order_id, amount):
        for _ in range(3):  # a retry loop by hand, in the workflow
            try:
                refund_id = service.issue(order_id, amount)
                break
            except RefundError:
                continue
        record_refund(order_id, amount, refund_id)
        return refund_id

    return refund_order


def insert_in_workflow_body(shop_db, service):
    @DBOS.step(retries_allowed=True, max_attempts=3, interval_seconds=0.01)
    def issue_refund(order_id, amount):
        return service.issue(order_id, amount)

    @DBOS.workflow()
    def refund_order(order_id, amount):
        refund_id = issue_refund(order_id, amount)
        with shop_db.engine.begin() as conn:
            conn.execute(INSERT, row(order_id, amount, refund_id))
        return refund_id

    return refund_order


def insert_in_plain_step(shop_db, service):
    @DBOS.step(retries_allowed=True, max_attempts=3, interval_seconds=0.01)
    def issue_refund(order_id, amount):
        return service.issue(order_id, amount)

    @DBOS.step()
    def record_refund(order_id, amount, refund_id):
        with shop_db.engine.begin() as conn:
            conn.execute(INSERT, row(order_id, amount, refund_id))

    @DBOS.workflow()
    def refund_order(order_id, amount):
        refund_id = issue_refund(order_id, amount)
        record_refund(order_id, amount, refund_id)
        return refund_id

    return refund_order


def session_without_transaction(shop_db, service):
    @DBOS.step(retries_allowed=True, max_attempts=3, interval_seconds=0.01)
    def issue_refund(order_id, amount):
        return service.issue(order_id, amount)

    def record_refund(order_id, amount, refund_id):  # the decorator is missing
        shop_db.sql_session().execute(INSERT, row(order_id, amount, refund_id))

    @DBOS.workflow()
    def refund_order(order_id, amount):
        refund_id = issue_refund(order_id, amount)
        record_refund(order_id, amount, refund_id)
        return refund_id

    return refund_order


def not_a_workflow(shop_db, service):
    workflow = solution(shop_db, service)
    return workflow.__wrapped__ if hasattr(workflow, "__wrapped__") else workflow


def returns_nothing(shop_db, service):
    inner = solution(shop_db, service)

    @DBOS.workflow()
    def refund_order(order_id, amount):
        inner(order_id, amount)  # a child workflow that does it all, result dropped

    return refund_order


@pytest.mark.parametrize(
    "make_workflow, hint",
    [
        (no_retries, "down for its first call"),
        (refund_in_workflow_body, "second refund"),
        (insert_in_workflow_body, "wrote the row again"),
        (insert_in_plain_step, "not through the datasource"),
        (session_without_transaction, "outside a datasource transaction"),
        (not_a_workflow, "did not run as a workflow"),
        (returns_nothing, "should return the refund ID"),
    ],
)
def test_ch03_refund_explains_wrong_answers(shop_db, make_workflow, hint):
    service = RefundService()
    refund_order = make_workflow(shop_db, service)
    assert_wrong(ch03_steps.check_refund_order(refund_order, service, shop_db), hint)
