"""Checkers for chapter 14, the capstone order service.

check_points runs the learner's async workflow for real on the DBOS instance
the notebook launched, with the order service's stand-ins writing to a
temporary folder and its stock in the datasource the notebook created
(order_service.stock.db). check_place_order_reliably calls the learner's async
client against an httpx transport that plays the order service: down for a
while, losing an answer, rejecting an order.

check_points is awaited in the cell: DBOS runs async workflows on the event loop that was
running when DBOS.launch() was called, the notebook's, so a check that blocked the cell's
thread would wait for workflows that never run. check_place_order_reliably does its work on a
thread of its own, with the kit's off_the_event_loop: inside a notebook cell an asyncio loop
is running, and DBOS refuses its blocking calls there. DBOS's log lines during a check
(retries log a WARNING with a traceback, failed workflows an ERROR) are kept out of the cell
by the kit and counted in a wrong verdict.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import tempfile
import uuid
from typing import Any

from ..exercises import (
    Feedback, WorkflowRun, cannot_check, checker, correct, environment_variable,
    is_unchanged_starter, off_the_event_loop, todo, wrong,
)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


# --- exercise 1: loyalty points, exactly once ---------------------------------


def _is_async(fn) -> bool:
    return inspect.iscoroutinefunction(inspect.unwrap(fn)) or inspect.iscoroutinefunction(fn)


async def _run_order(workflow, order: dict, wait_limit: float = 20) -> WorkflowRun:
    """Start the learner's async workflow on this event loop and await its end."""
    from dbos import DBOS, SetWorkflowID

    workflow_id = f"ch14-check-points-{uuid.uuid4()}"
    with SetWorkflowID(workflow_id):
        handle = await DBOS.start_workflow_async(workflow, order)
    try:
        result = await asyncio.wait_for(handle.get_result(), wait_limit)
    except asyncio.TimeoutError:
        await DBOS.cancel_workflow_async(workflow_id)
        return WorkflowRun(workflow_id, finished=False)
    except Exception as exc:  # the workflow raised
        return WorkflowRun(workflow_id, status="ERROR", error=exc)
    return WorkflowRun(workflow_id, status="SUCCESS", result=result)


async def _step_names(run: WorkflowRun) -> list[str]:
    from dbos import DBOS

    return [step["function_name"]
            for step in await DBOS.list_workflow_steps_async(run.workflow_id)]


def _order(email: str, amount: int, country: str = "FR") -> dict:
    return {"email": email, "item": "mug", "quantity": 1, "amount": amount,
            "country": country}


async def _check_points(workflow, step) -> Feedback:
    from dbos import error
    from order_service import loyalty

    step_name = inspect.unwrap(step).__qualname__
    customer = f"points-{uuid.uuid4().hex[:8]}@example.com"
    if not is_unchanged_starter(step):
        if not _is_async(step):
            return wrong(
                f"{step_name} is a plain def, but the order workflow is async and awaits its "
                "steps: make it an async def step that runs the loyalty programme's blocking "
                "add_points on a thread, with await asyncio.to_thread(loyalty.add_points, ...)."
            )
        if not _is_async(workflow):
            return wrong(
                f"{workflow.__name__} is a plain def: make it an async def that awaits each "
                "step and transaction, as process_order does (a reserve_stock(...) that is not "
                "awaited never reserves anything)."
            )

    # 1. A normal order.
    try:
        first = await _run_order(workflow, _order(customer, 40))
    except error.DBOSWorkflowFunctionNotFoundError:
        if is_unchanged_starter(step):
            return todo()
        return wrong(f"{workflow.__name__} is not a DBOS workflow yet: decorate it with "
                     "@DBOS.workflow().")
    if not first.finished:
        return wrong("a normal order was still running after 20 seconds: is it stuck?")
    if first.error is not None:
        return wrong(f"a normal order failed: your workflow raised {_describe(first.error)}")
    credits = loyalty.credits(customer)
    names = await _step_names(first)
    if not credits:
        if is_unchanged_starter(step):
            return todo()
        if step_name not in names:
            return wrong(
                f"your workflow never called {step_name}: call it, with await, after "
                "ship_parcel, with the order's ID, e-mail address and amount (a call without "
                "await makes a coroutine that never runs)."
            )
        return wrong(
            f"{step_name} ran but credited no points: call loyalty.add_points(email, amount, "
            "idempotency_key=...)."
        )
    if step_name not in names:
        return wrong(
            f"points were credited, but {step_name} is not a step of the workflow: decorate it "
            "with @DBOS.step(...). Otherwise nothing records that it finished, and recovery "
            "after a crash calls the loyalty programme again."
        )
    if len(credits) > 1:
        return wrong(f"one normal order was credited {len(credits)} times: call the step once.")
    if credits != [40]:
        return wrong(
            f"an order of 40 EUR earned {credits[0]} points; it should earn one point per "
            "euro: 40."
        )

    # 2. The same customer's second order, whose first answer from the programme is lost.
    loyalty.lose_answers(1)
    try:
        second = await _run_order(workflow, _order(customer, 25))
    finally:
        loyalty.lose_answers(0)
    credits = loyalty.credits(customer)
    if second.error is not None or not second.finished:
        what = _describe(second.error) if second.error is not None else "it did not finish"
        return wrong(
            "the loyalty programme credited the points, then its answer was lost, and the order "
            f"failed ({what}). Give the step retries: "
            "@DBOS.step(retries_allowed=True, max_attempts=..., interval_seconds=...)."
        )
    if len(credits) > 2:
        return wrong(
            "when the first answer was lost, the retry credited the points a second time: "
            f"{credits[1:]}. Pass add_points an idempotency_key that is the same on every "
            "attempt and names the order, such as f'{order_id}/points'."
        )
    if len(credits) < 2:
        return wrong(
            "the customer's second order earned no points: its key was the same as the first "
            "order's. Make the key name the order, such as f'{order_id}/points', not the "
            "customer."
        )
    if credits[1] != 25:
        return wrong(f"an order of 25 EUR earned {credits[1]} points, not 25.")

    # 3. An order the carrier refuses: refunded, so no points.
    refused_customer = f"refused-{uuid.uuid4().hex[:8]}@example.com"
    refused = await _run_order(workflow, _order(refused_customer, 30, country="US"))
    if refused.error is not None or not refused.finished:
        what = _describe(refused.error) if refused.error is not None else "it did not finish"
        return wrong(f"an order the carrier refuses should be refunded, but {what}.")
    if loyalty.credits(refused_customer):
        return wrong(
            "an order the carrier refused, and that was refunded, earned points: award them "
            "after ship_parcel has succeeded."
        )
    if refused.result != "refunded":
        return wrong(f"a refused order should return 'refunded', not {refused.result!r}.")
    return correct(
        "the points are a step with retries, credited once per order under a key derived "
        "from the order's ID, even when an answer is lost; a refunded order earns nothing."
    )


@checker(needs_dbos=True)
async def check_points(order_with_points, award_points) -> Feedback:
    """Awaited in the cell: the learner's async workflow runs on the notebook's event loop."""
    from order_service import stock

    if stock.db is None:
        return cannot_check(
            "the order service's stock has no datasource in this kernel: run the set-up cell "
            "(it creates order_service.stock.db before DBOS.launch()), then this check again."
        )
    with tempfile.TemporaryDirectory() as folder, \
            environment_variable("ORDER_SERVICE_DATA", folder):
        return await _check_points(order_with_points, award_points)


# --- exercise 2: a client that retries safely ---------------------------------


class _FakeOrderService:
    """Plays POST /orders: can be down for a while, lose an answer, or reject orders."""

    def __init__(self, down_for: int = 0, lose_first_answer: bool = False,
                 reject: bool = False):
        self.down_for, self.lose_first_answer, self.reject = down_for, lose_first_answer, reject
        self.keys: list[str | None] = []  # the key of every request that arrived
        self.orders: dict[str, dict] = {}  # the orders recorded, by key
        self.answers_lost = 0

    async def handle(self, request):
        import httpx

        key = request.headers.get("idempotency-key")
        self.keys.append(key)
        if len(self.keys) <= self.down_for:
            raise httpx.ConnectError("All connection attempts failed", request=request)
        if self.reject or key is None:
            return httpx.Response(422, json={"detail": "invalid order"})
        new = key not in self.orders
        if new:
            self.orders[key] = json.loads(request.content)
        if self.lose_first_answer and not self.answers_lost:
            self.answers_lost += 1
            raise httpx.ReadError("connection reset by peer", request=request)
        return httpx.Response(202 if new else 200, json={"order_id": key})


def _call(function, service: _FakeOrderService, orders: list[dict]) -> tuple[list, Any]:
    """Call the learner's function once per order; return the results and any exception."""
    import httpx

    async def calls():
        transport = httpx.MockTransport(service.handle)
        async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
            results = []
            for order in orders:
                results.append(await asyncio.wait_for(function(client, order), 10))
            return results

    try:
        return off_the_event_loop(calls, timeout=60), None
    except Exception as exc:
        return [], exc


def _check_place_order_reliably(function) -> Feedback:
    import httpx

    order = {"email": "ada@example.com", "item": "kettle", "quantity": 1, "amount": 49,
             "country": "FR"}
    if not inspect.iscoroutinefunction(function):
        return wrong("place_order_reliably must be an async function: async def ...")

    # 1. Down for three attempts, then up.
    down = _FakeOrderService(down_for=3)
    results, error = _call(function, down, [order])
    if not down.keys and error is None:
        return todo()
    if isinstance(error, asyncio.TimeoutError):
        return wrong("your function was still trying after 10 seconds against a service that "
                     "came back after 3 attempts.")
    if isinstance(error, httpx.TransportError) and len(down.keys) == 1:
        return wrong(
            f"the service was down and your function raised {_describe(error)} at once: catch "
            "httpx.TransportError, wait a little, and try again."
        )
    if None in down.keys:
        return wrong("your requests carry no Idempotency-Key header: without it the service "
                     "cannot tell a retry from a new order.")
    if error is not None:
        return wrong(f"against a service down for three attempts, your function raised "
                     f"{_describe(error)}")
    if len(set(down.keys)) > 1:
        return wrong(
            f"the service saw {len(set(down.keys))} different keys for one order: each retry "
            "would place a new order. Make the key once, before the first attempt, and send "
            "the same one every time."
        )
    key = down.keys[0]
    if results != [{"order_id": key}]:
        return wrong(f"your function returned {results[0]!r}; return the answer's JSON, "
                     "response.json().")

    # 2. The order is recorded, then the answer is lost on the way back.
    lossy = _FakeOrderService(lose_first_answer=True)
    results, error = _call(function, lossy, [order])
    if isinstance(error, httpx.TransportError):
        return wrong(
            f"when the connection broke after the request was sent, your function raised "
            f"{_describe(error)}. That is an httpx.TransportError too: catch TransportError, "
            "not only ConnectError."
        )
    if error is not None:
        return wrong(f"when an answer was lost, your function raised {_describe(error)}")
    if len(lossy.orders) != 1:
        return wrong(f"one call placed {len(lossy.orders)} orders.")

    # 3. Two calls are two purchases, even of the same thing.
    twice = _FakeOrderService()
    results, error = _call(function, twice, [order, dict(order)])
    if error is not None:
        return wrong(f"placing two orders, your function raised {_describe(error)}")
    if len(twice.orders) != 2:
        return wrong(
            "two calls (two purchases, even of the same item) used the same key, so the second "
            "became the first order again. Make a new key in each call, e.g. "
            "str(uuid.uuid4()), not a constant or something computed from the order."
        )

    # 4. An invalid order: the answer is final.
    rejecting = _FakeOrderService(reject=True)
    results, error = _call(function, rejecting, [order])
    if len(rejecting.keys) > 1:
        return wrong(
            f"the service answered 422 and your function sent the order {len(rejecting.keys)} "
            "times: an answer, even an error, is final. Retry only when no answer came back."
        )
    if not isinstance(error, httpx.HTTPStatusError):
        return wrong(
            "the service answered 422 and your function did not raise: call "
            "response.raise_for_status() before returning the JSON."
        )

    # 5. Down for good: give up after 20 attempts.
    gone = _FakeOrderService(down_for=1000)
    results, error = _call(function, gone, [order])
    if isinstance(error, asyncio.TimeoutError) or len(gone.keys) > 20:
        return wrong("against a service that never comes back, your function made more than "
                     "20 attempts. Stop after 20.")
    if error is None:
        return wrong(
            f"after {len(gone.keys)} failed attempts your function returned {results[0]!r}: "
            "when every attempt failed, raise the last error instead."
        )
    return correct(
        "one key per order, sent with every attempt; it retries only when no answer came back, "
        "treats an error answer as final, and gives up after 20 attempts."
    )


@checker
def check_place_order_reliably(place_order_reliably) -> Feedback:
    return _check_place_order_reliably(place_order_reliably)
