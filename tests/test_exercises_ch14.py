"""Chapter 14's checkers accept the solutions and explain typical wrong answers.

check_points runs the learner's workflow, so these tests launch DBOS on a
SQLite file of their own, with the order service's stock datasource created
before the launch as the notebook creates it, and destroy both afterwards. The
variants below are what learners typically write.
"""

import asyncio
import os
import uuid

import httpx
import pytest
from dbos import DBOS, AsyncSQLAlchemyDatasource

from booktools.checks import ch14_capstone as ch14
from order_service import loyalty, stock
from order_service.warehouse import CarrierRefused
from order_service.workflows import (
    charge_payment,
    notify_customer,
    refund_payment,
    release_stock,
    reserve_stock,
    ship_parcel,
)
from support import assert_correct, assert_todo, assert_wrong, launched_dbos


@pytest.fixture(scope="module")
def dbos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ch14")

    def open_stock() -> None:  # between DBOS(config=...) and launch(), as the notebook does
        async def create() -> None:
            url = f"sqlite+aiosqlite:///{folder / 'shop.sqlite'}"
            stock.db = await AsyncSQLAlchemyDatasource.create(url)
            await stock.create_tables()

        asyncio.run(create())

    with launched_dbos("ch14-checks", folder / "checks.sqlite", before_launch=open_stock):
        yield
    asyncio.run(stock.db.engine.dispose())
    stock.db = None


# --- exercise 1: loyalty points -----------------------------------------------


def check_points(workflow, step):
    """The check is awaited in the notebook's cell; here, in an event loop of its own."""
    return asyncio.run(ch14.check_points(workflow, step))


def order_workflow(award, *, award_before_shipping=False, awaited=True):
    """The exercise's workflow, calling `award` where the learner put it."""

    async def call_award(*args):
        if awaited:
            await award(*args)
        else:
            award(*args)  # forgot await: a coroutine that never runs

    async def body(order: dict) -> str:
        order_id = DBOS.workflow_id
        await reserve_stock(order_id, order["item"], order["quantity"])
        await charge_payment(order_id, order["amount"])
        if award_before_shipping:
            await call_award(order_id, order["email"], order["amount"])
        try:
            tracking = await ship_parcel(order_id, order["country"])
        except CarrierRefused:
            await refund_payment(order_id, order["amount"])
            await release_stock(order_id)
            return "refunded"
        if not award_before_shipping:
            await call_award(order_id, order["email"], order["amount"])
        await notify_customer(order_id, order["email"], f"On its way: {tracking}")
        return "completed"

    return body


def as_workflow(name: str, body):
    body.__name__ = body.__qualname__ = name
    return DBOS.workflow()(body)


def add_points(*args, **kwargs):
    """The loyalty programme's client, on a thread, as an async step must call it."""
    return asyncio.to_thread(loyalty.add_points, *args, **kwargs)


@DBOS.step(retries_allowed=True, max_attempts=4, interval_seconds=0.1)
async def award_points(order_id: str, email: str, amount: int) -> None:
    await add_points(email, amount, idempotency_key=f"{order_id}/points")


async def points_starter_step(order_id: str, email: str, amount: int) -> None:
    ...


async def points_undecorated(order_id: str, email: str, amount: int) -> None:
    await add_points(email, amount, idempotency_key=f"{order_id}/points")


@DBOS.step(retries_allowed=True, max_attempts=4, interval_seconds=0.1)
def points_sync_step(order_id: str, email: str, amount: int) -> None:
    loyalty.add_points(email, amount, idempotency_key=f"{order_id}/points")


@DBOS.step()
async def points_without_retries(order_id: str, email: str, amount: int) -> None:
    await add_points(email, amount, idempotency_key=f"{order_id}/points")


@DBOS.step(retries_allowed=True, max_attempts=4, interval_seconds=0.1)
async def points_without_key(order_id: str, email: str, amount: int) -> None:
    await add_points(email, amount)


@DBOS.step(retries_allowed=True, max_attempts=4, interval_seconds=0.1)
async def points_with_random_key(order_id: str, email: str, amount: int) -> None:
    await add_points(email, amount, idempotency_key=str(uuid.uuid4()))


@DBOS.step(retries_allowed=True, max_attempts=4, interval_seconds=0.1)
async def points_keyed_by_customer(order_id: str, email: str, amount: int) -> None:
    await add_points(email, amount, idempotency_key=f"{email}/points")


@DBOS.step(retries_allowed=True, max_attempts=4, interval_seconds=0.1)
async def points_double(order_id: str, email: str, amount: int) -> None:
    await add_points(email, 2 * amount, idempotency_key=f"{order_id}/points")


async def nothing(*args) -> None:
    return None


@DBOS.workflow(name="ch14_sync_workflow")
def sync_workflow(order: dict) -> str:
    return "completed"


solution = as_workflow("ch14_solution", order_workflow(award_points))
starter = as_workflow("ch14_starter", order_workflow(nothing))
with_undecorated = as_workflow("ch14_undecorated", order_workflow(points_undecorated))
without_retries = as_workflow("ch14_no_retries", order_workflow(points_without_retries))
without_key = as_workflow("ch14_no_key", order_workflow(points_without_key))
with_random_key = as_workflow("ch14_random_key", order_workflow(points_with_random_key))
keyed_by_customer = as_workflow("ch14_customer_key",
                                order_workflow(points_keyed_by_customer))
doubled = as_workflow("ch14_double", order_workflow(points_double))
before_shipping = as_workflow(
    "ch14_before_shipping", order_workflow(award_points, award_before_shipping=True))
never_called = as_workflow("ch14_never_called", order_workflow(nothing))
not_awaited = as_workflow("ch14_not_awaited", order_workflow(award_points, awaited=False))
undecorated_workflow = order_workflow(award_points)


def test_points_accepts_the_solution(dbos):
    assert_correct(check_points(solution, award_points))


def test_points_starter_is_not_done_yet(dbos):
    assert_todo(check_points(starter, points_starter_step))
    # The notebook's starter: neither function decorated yet.
    assert_todo(check_points(order_workflow(points_starter_step), points_starter_step))


@pytest.mark.parametrize(
    "workflow, step, hint",
    [
        (with_undecorated, points_undecorated, "decorate it with @DBOS.step"),
        (solution, points_sync_step, "make it an async def step"),
        (sync_workflow, award_points, "is a plain def: make it an async def"),
        (without_retries, points_without_retries, "Give the step retries"),
        (without_key, points_without_key, "the retry credited the points a second time"),
        (with_random_key, points_with_random_key, "the same on every attempt"),
        (keyed_by_customer, points_keyed_by_customer, "not the customer"),
        (doubled, points_double, "one point per euro"),
        (before_shipping, award_points, "after ship_parcel has succeeded"),
        (never_called, award_points, "never called award_points"),
        (not_awaited, award_points, "a call without await"),
        (undecorated_workflow, award_points, "decorate it with @DBOS.workflow()"),
    ],
    ids=["not a step", "sync step", "sync workflow", "no retries", "no key", "random key",
         "customer key", "double points", "before shipping", "never called", "not awaited",
         "workflow undecorated"],
)
@pytest.mark.filterwarnings("ignore:coroutine 'award_points' was never awaited")
def test_points_explains_wrong_answers(dbos, workflow, step, hint):
    assert_wrong(check_points(workflow, step), hint)


def test_points_puts_things_back(dbos, monkeypatch):
    monkeypatch.setenv("ORDER_SERVICE_DATA", "where-the-notebook-keeps-its-ledgers")
    check_points(without_retries, points_without_retries)
    assert loyalty._lost["answers"] == 0  # the programme is reliable again
    assert os.environ["ORDER_SERVICE_DATA"] == "where-the-notebook-keeps-its-ledgers"


def test_points_needs_the_stock_datasource(dbos, monkeypatch):
    monkeypatch.setattr(stock, "db", None)
    feedback = check_points(solution, award_points)
    assert feedback.status == "setup" and "run the set-up cell" in feedback.message


# --- exercise 2: a client that retries safely ---------------------------------


async def reliable(client, order):
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    for attempt in range(20):
        try:
            response = await client.post("/orders", json=order, headers=headers)
        except httpx.TransportError:
            if attempt == 19:
                raise
            await asyncio.sleep(0.01)
            continue
        response.raise_for_status()
        return response.json()


async def client_starter(client, order):
    ...


async def no_retry(client, order):
    response = await client.post("/orders", json=order,
                                 headers={"Idempotency-Key": str(uuid.uuid4())})
    response.raise_for_status()
    return response.json()


async def new_key_per_attempt(client, order):
    for _ in range(20):
        try:
            response = await client.post("/orders", json=order,
                                         headers={"Idempotency-Key": str(uuid.uuid4())})
        except httpx.TransportError:
            await asyncio.sleep(0.01)
            continue
        response.raise_for_status()
        return response.json()


async def no_key(client, order):
    for _ in range(20):
        try:
            response = await client.post("/orders", json=order)
        except httpx.TransportError:
            await asyncio.sleep(0.01)
            continue
        response.raise_for_status()
        return response.json()


async def only_connect_errors(client, order):
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    for _ in range(20):
        try:
            response = await client.post("/orders", json=order, headers=headers)
        except httpx.ConnectError:
            await asyncio.sleep(0.01)
            continue
        response.raise_for_status()
        return response.json()


async def constant_key(client, order):
    headers = {"Idempotency-Key": "my-order"}
    for _ in range(20):
        try:
            response = await client.post("/orders", json=order, headers=headers)
        except httpx.TransportError:
            await asyncio.sleep(0.01)
            continue
        response.raise_for_status()
        return response.json()


async def retries_error_answers(client, order):
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    for _ in range(20):
        try:
            response = await client.post("/orders", json=order, headers=headers)
            response.raise_for_status()
            return response.json()
        except (httpx.TransportError, httpx.HTTPStatusError):
            await asyncio.sleep(0.01)
    raise RuntimeError("gave up")


async def ignores_error_answers(client, order):
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    for _ in range(20):
        try:
            response = await client.post("/orders", json=order, headers=headers)
        except httpx.TransportError:
            await asyncio.sleep(0.01)
            continue
        return response.json()


async def returns_the_response(client, order):
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    for _ in range(20):
        try:
            response = await client.post("/orders", json=order, headers=headers)
        except httpx.TransportError:
            await asyncio.sleep(0.01)
            continue
        response.raise_for_status()
        return response


async def returns_none_when_giving_up(client, order):
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    for _ in range(20):
        try:
            response = await client.post("/orders", json=order, headers=headers)
        except httpx.TransportError:
            await asyncio.sleep(0.01)
            continue
        response.raise_for_status()
        return response.json()
    return None


def not_async(client, order):
    return {}


def test_client_accepts_the_solution():
    assert_correct(ch14.check_place_order_reliably(reliable))


def test_client_starter_is_not_done_yet():
    assert_todo(ch14.check_place_order_reliably(client_starter))


@pytest.mark.parametrize(
    "function, hint",
    [
        (no_retry, "raised ConnectError"),
        (new_key_per_attempt, "different keys for one order"),
        (no_key, "no Idempotency-Key header"),
        (only_connect_errors, "not only ConnectError"),
        (constant_key, "used the same key"),
        (retries_error_answers, "an answer, even an error, is final"),
        (ignores_error_answers, "response.raise_for_status()"),
        (returns_the_response, "return the answer's JSON"),
        (returns_none_when_giving_up, "raise the last error"),
        (not_async, "must be an async function"),
    ],
)
def test_client_explains_wrong_answers(function, hint):
    assert_wrong(ch14.check_place_order_reliably(function), hint)
