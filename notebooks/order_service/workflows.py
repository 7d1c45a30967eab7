"""The order workflow and its steps, all async.

The stock is the service's own data: reserving and releasing it are datasource
transactions, which commit together with DBOS's record of them, so each runs
exactly once. Every other step talks to an outside service and passes it a key
derived from the order's ID, so that a step run again (a retry, or recovery
after a crash in the middle of it) changes nothing the first run did not
already change.
"""

import asyncio

from dbos import DBOS

from . import mailer, payments, stock, warehouse
from .stock import OutOfStock
from .warehouse import CarrierRefused

ORDERS_QUEUE = "orders"
ORDERS_PER_SECOND = 10  # the payment provider's rate limit
APPROVAL_THRESHOLD = 1000  # EUR: larger orders wait for a manager
APPROVAL_TIMEOUT_SEC = 24 * 3600  # nobody decided in a day: cancel


async def reserve_stock(order_id: str, item: str, quantity: int) -> None:
    # A transaction in the service's own database, checkpointed in that database.
    await stock.db.run_tx_step_async(
        {"name": "reserve_stock"}, stock.reserve, order_id, item, quantity)


async def release_stock(order_id: str) -> None:
    await stock.db.run_tx_step_async({"name": "release_stock"}, stock.release, order_id)


# The outside services' clients block: each step runs its call on a thread,
# so that it does not hold up the event loop the workflows share.
@DBOS.step()
async def charge_payment(order_id: str, amount: int) -> str:
    return await asyncio.to_thread(
        payments.charge, f"{order_id}/charge", order_id, amount)


@DBOS.step()
async def refund_payment(order_id: str, amount: int) -> str:
    return await asyncio.to_thread(
        payments.refund, f"{order_id}/refund", order_id, amount)


# Retry the carrier's hiccups; a refusal is final, so do not retry that.
@DBOS.step(retries_allowed=True, max_attempts=4, interval_seconds=0.2,
           should_retry=lambda error: not isinstance(error, CarrierRefused))
async def ship_parcel(order_id: str, country: str) -> str:
    return await asyncio.to_thread(warehouse.ship, order_id, country)


@DBOS.step(retries_allowed=True, max_attempts=4, interval_seconds=0.2)
async def notify_customer(order_id: str, email: str, text: str) -> None:
    await asyncio.to_thread(mailer.send, f"{order_id}/shipped", email, text)


async def publish(status: str) -> None:
    """Where the order is: an event for "now", a stream for the whole story."""
    await DBOS.set_event_async("status", status)
    await DBOS.write_stream_async("progress", status)


async def finish(status: str) -> str:
    await publish(status)
    await DBOS.close_stream_async("progress")
    return status


@DBOS.workflow()
async def process_order(order: dict) -> str:
    order_id = DBOS.workflow_id  # the client's Idempotency-Key
    await publish("received")
    try:
        await reserve_stock(order_id, order["item"], order["quantity"])
    except OutOfStock:
        return await finish("rejected: out of stock")
    await publish("reserved")

    if order["amount"] >= APPROVAL_THRESHOLD:
        await publish("awaiting approval")
        decision = await DBOS.recv_async("decision",
                                         timeout_seconds=APPROVAL_TIMEOUT_SEC)
        if decision != "approve":  # "cancel", or no decision in time
            await release_stock(order_id)
            return await finish("cancelled")

    payment_id = await charge_payment(order_id, order["amount"])
    await DBOS.set_event_async("payment_id", payment_id)
    await publish("paid")

    try:
        tracking = await ship_parcel(order_id, order["country"])
    except CarrierRefused:
        # A later step failed for good: undo the earlier ones, newest first.
        await refund_payment(order_id, order["amount"])
        await release_stock(order_id)
        return await finish("refunded: the carrier does not deliver there")
    await DBOS.set_event_async("tracking", tracking)
    await publish("shipped")

    await notify_customer(order_id, order["email"],
                          f"Your {order['item']} is on its way: {tracking}")
    return await finish("completed")
