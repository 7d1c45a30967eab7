"""Chapter 12's checkers accept the solutions and explain typical wrong answers.

Each test gets a fresh DBOS with tracing on (an OpenTelemetry SDK tracer provider, set once per
process, and "enable_otlp": True), on a SQLite file of its own.
"""

import logging
import uuid

import pytest
from dbos import DBOS
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from booktools.checks import ch12_observability as ch12
from support import assert_correct, assert_todo, assert_wrong, checker_config


@pytest.fixture()
def dbos(tmp_path):
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
    DBOS.destroy()
    config = checker_config("ch12-checker-test", tmp_path / "dbos.sqlite", log_level="CRITICAL")
    DBOS(config={**config, "enable_otlp": True})
    DBOS.launch()
    yield
    DBOS.destroy()
    logging.getLogger("dbos").setLevel(logging.WARNING)


# --- exercise 1: check_ship ------------------------------------------------------------------


def make_ship(tracking_on: str = "step", order_id_on: str = "workflow"):
    """A `ship` workflow that puts shop.tracking and shop.order_id on the spans named."""
    suffix = uuid.uuid4().hex[:6]

    def tag(where: str, here: str, key: str, value: str) -> None:
        if where == here:
            DBOS.span.set_attribute(key, value)

    def book_courier(order_id: str) -> str:
        tracking = f"TRK-{order_id}"
        tag(order_id_on, "step", "shop.order_id", order_id)
        if tracking_on == "child":
            span = DBOS.tracer.start_span({"name": "courier API"})
            with trace.use_span(span, end_on_exit=True):
                span.set_attribute("shop.tracking", tracking)
        tag(tracking_on, "step", "shop.tracking", tracking)
        return tracking

    book_courier.__name__ = "book_courier"
    book_courier.__qualname__ = f"book_courier_{suffix}"
    step = DBOS.step(name="book_courier")(book_courier)

    def ship(order_id: str) -> str:
        tag(order_id_on, "workflow", "shop.order_id", order_id)
        tracking = step(order_id)
        tag(tracking_on, "workflow", "shop.tracking", tracking)
        return tracking

    ship.__qualname__ = f"ship_{suffix}"
    return DBOS.workflow(name=f"ship_{suffix}")(ship)


def test_ship_solution(dbos):
    assert_correct(ch12.check_ship(make_ship()))


def test_ship_starter(dbos):
    def ship(order_id: str) -> str:
        ...

    assert_todo(ch12.check_ship(ship))


def test_ship_tracking_on_the_workflow_span(dbos):
    assert_wrong(ch12.check_ship(make_ship(tracking_on="workflow")),
                 "on the workflow's span (ship), not the step's")


def test_ship_tracking_on_a_child_span(dbos):
    assert_wrong(ch12.check_ship(make_ship(tracking_on="child")), "on a span of its own")


def test_ship_tracking_missing(dbos):
    assert_wrong(ch12.check_ship(make_ship(tracking_on="nowhere")),
                 "no span carries shop.tracking")


def test_ship_order_id_on_the_step_span(dbos):
    assert_wrong(ch12.check_ship(make_ship(order_id_on="step")),
                 "shop.order_id is on a step's span")


def test_ship_order_id_missing(dbos):
    assert_wrong(ch12.check_ship(make_ship(order_id_on="nowhere")),
                 "carries no shop.order_id")


# --- exercise 2: check_step_context ----------------------------------------------------------


class Solution(logging.Filter):
    def filter(self, record):
        status = DBOS.step_status
        record.workflow_id = DBOS.workflow_id
        record.step_id = DBOS.step_id
        record.attempt = None
        if status is not None and status.current_attempt is not None:
            record.attempt = status.current_attempt + 1
        return True


class Starter(logging.Filter):
    def filter(self, record):
        ...


class ReadOnceInInit(logging.Filter):  # the context read outside any workflow
    def __init__(self):
        super().__init__()
        self.workflow_id = DBOS.workflow_id
        self.step_id = DBOS.step_id

    def filter(self, record):
        record.workflow_id, record.step_id, record.attempt = self.workflow_id, self.step_id, None
        return True


class ZeroBased(Solution):
    def filter(self, record):
        super().filter(record)
        if record.attempt is not None:
            record.attempt -= 1
        return True


class CrashesOutsideSteps(logging.Filter):
    def filter(self, record):
        record.workflow_id = DBOS.workflow_id
        record.step_id = DBOS.step_status.step_id
        record.attempt = DBOS.step_status.current_attempt + 1
        return True


class ForgetsToReturn(Solution):
    def filter(self, record):
        super().filter(record)


def test_step_context_solution(dbos):
    assert_correct(ch12.check_step_context(Solution))


def test_step_context_starter(dbos):
    assert_todo(ch12.check_step_context(Starter))


def test_step_context_read_outside_the_workflow(dbos):
    assert_wrong(ch12.check_step_context(ReadOnceInInit), "outside the workflow context")


def test_step_context_zero_based_attempts(dbos):
    assert_wrong(ch12.check_step_context(ZeroBased), "counts from 0")


def test_step_context_crashes_outside_steps(dbos):
    assert_wrong(ch12.check_step_context(CrashesOutsideSteps), "DBOS.step_status is None")


def test_step_context_drops_records(dbos):
    assert_wrong(ch12.check_step_context(ForgetsToReturn), "records were dropped")


# --- exercise 3: check_payment_key -----------------------------------------------------------


def test_payment_key_solution(dbos):
    assert_correct(ch12.check_payment_key(lambda: f"{DBOS.workflow_id}:{DBOS.step_id}"))


def test_payment_key_starter(dbos):
    def payment_key() -> str:
        ...

    assert_todo(ch12.check_payment_key(payment_key))


def test_payment_key_workflow_id_alone(dbos):
    assert_wrong(ch12.check_payment_key(lambda: DBOS.workflow_id),
                 "the workflow ID alone is not enough")


def test_payment_key_random(dbos):
    assert_wrong(ch12.check_payment_key(lambda: str(uuid.uuid4())),
                 "different key on its second attempt")


def test_payment_key_with_the_attempt(dbos):
    def with_attempt() -> str:
        return f"{DBOS.workflow_id}:{DBOS.step_id}:{DBOS.step_status.current_attempt}"

    assert_wrong(ch12.check_payment_key(with_attempt), "different key on its second attempt")


def test_payment_key_step_id_alone(dbos):
    assert_wrong(ch12.check_payment_key(lambda: f"step-{DBOS.step_id}"), "the step ID alone")
