"""Chapter 14's checkers accept the solutions and explain typical wrong answers.

check_points runs the learner's workflow, so these tests launch DBOS on a
SQLite file of their own and destroy it afterwards. The variants below are
what learners typically write.
"""

import asyncio
import os
import uuid

import httpx
import pytest
from dbos import DBOS

from booktools.checks import ch14_capstone as ch14
from order_service import loyalty
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
    with launched_dbos("ch14-checks", tmp_path_factory.mktemp("ch14") / "checks.sqlite"):
        yield



# --- exercise 1: loyalty points -----------------------------------------------


def order_workflow(award, *, award_before_shipping=False):
    """The exercise's workflow, calling `award` where the learner put it."""

    def body(order: dict) -> str:
        order_id = DBOS.workflow_id
        reserve_stock(order_id, order["item"], order["quantity"])
        charge_payment(order_id, order["amount"])
        if award_before_shipping:
            award(order_id, order["email"], order["amount"])
        try:
            tracking = ship_parcel(order_id, order["country"])
        except CarrierRefused:
            refund_payment(order_id, order["amount"])
            release_stock(order_id)
            return "refunded"
        if not award_before_shipping:
            award(order_id, order["email"], order["amount"])
        notify_customer(order_id, order["email"], f"On its way: {tracking}")
        return "completed"

    return body


def as_workflow(name: str, body):
    body.__name__ = body.__qualname__ = name
    return DBOS.workflow()(body)


@DBOS.step(retries_allowed=True, max_attempts=4, interval_seconds=0.1)
def award_points(order_id: str, email: str, amount: int) -> None:
    loyalty.add_points(email, amount, idempotency_key=f"{order_id}/points")


def points_starter_step(order_id: str, email: str, amount: int) -> None:
    ...


def points_undecorated(order_id: str, email: str, amount: int) -> None:
    loyalty.add_points(email, amount, idempotency_key=f"{order_id}/points")


@DBOS.step()
def points_without_retries(order_id: str, email: str, amount: int) -> None:
    loyalty.add_points(email, amount, idempotency_key=f"{order_id}/points")


@DBOS.step(retries_allowed=True, max_attempts=4, interval_seconds=0.1)
def points_without_key(order_id: str, email: str, amount: int) -> None:
    loyalty.add_points(email, amount)


@DBOS.step(retries_allowed=True, max_attempts=4, interval_seconds=0.1)
def points_with_random_key(order_id: str, email: str, amount: int) -> None:
    loyalty.add_points(email, amount, idempotency_key=str(uuid.uuid4()))


@DBOS.step(retries_allowed=True, max_attempts=4, interval_seconds=0.1)
def points_keyed_by_customer(order_id: str, email: str, amount: int) -> None:
    loyalty.add_points(email, amount, idempotency_key=f"{email}/points")


@DBOS.step(retries_allowed=True, max_attempts=4, interval_seconds=0.1)
def points_double(order_id: str, email: str, amount: int) -> None:
    loyalty.add_points(email, 2 * amount, idempotency_key=f"{order_id}/points")


solution = as_workflow("ch14_solution", order_workflow(award_points))
starter = as_workflow("ch14_starter", order_workflow(lambda *args: None))
with_undecorated = as_workflow("ch14_undecorated", order_workflow(points_undecorated))
without_retries = as_workflow("ch14_no_retries", order_workflow(points_without_retries))
without_key = as_workflow("ch14_no_key", order_workflow(points_without_key))
with_random_key = as_workflow("ch14_random_key", order_workflow(points_with_random_key))
keyed_by_customer = as_workflow("ch14_customer_key",
                                order_workflow(points_keyed_by_customer))
doubled = as_workflow("ch14_double", order_workflow(points_double))
before_shipping = as_workflow(
    "ch14_before_shipping", order_workflow(award_points, award_before_shipping=True))
never_called = as_workflow("ch14_never_called", order_workflow(lambda *args: None))
undecorated_workflow = order_workflow(award_points)


def test_points_accepts_the_solution(dbos):
    assert_correct(ch14.check_points(solution, award_points))


def test_points_starter_is_not_done_yet(dbos):
    assert_todo(ch14.check_points(starter, points_starter_step))
    # The notebook's starter: neither function decorated yet.
    assert_todo(ch14.check_points(order_workflow(points_starter_step), points_starter_step))


@pytest.mark.parametrize(
    "workflow, step, hint",
    [
        (with_undecorated, points_undecorated, "decorate it with @DBOS.step"),
        (without_retries, points_without_retries, "Give the step retries"),
        (without_key, points_without_key, "the retry credited the points a second time"),
        (with_random_key, points_with_random_key, "the same on every attempt"),
        (keyed_by_customer, points_keyed_by_customer, "not the customer"),
        (doubled, points_double, "one point per euro"),
        (before_shipping, award_points, "after ship_parcel has succeeded"),
        (never_called, award_points, "never called award_points"),
        (undecorated_workflow, award_points, "decorate it with @DBOS.workflow()"),
    ],
    ids=["not a step", "no retries", "no key", "random key", "customer key",
         "double points", "before shipping", "never called", "workflow undecorated"],
)
def test_points_explains_wrong_answers(dbos, workflow, step, hint):
    assert_wrong(ch14.check_points(workflow, step), hint)


def test_points_puts_things_back(dbos, monkeypatch):
    monkeypatch.setenv("ORDER_SERVICE_DATA", "where-the-notebook-keeps-its-ledgers")
    ch14.check_points(without_retries, points_without_retries)
    assert loyalty._lost["answers"] == 0  # the programme is reliable again
    assert os.environ["ORDER_SERVICE_DATA"] == "where-the-notebook-keeps-its-ledgers"


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
