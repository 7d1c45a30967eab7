"""The order workflow and its steps.

Every step talks to one outside service and passes it a key derived from the
order's ID, so that a step run again (a retry, or recovery after a crash in
the middle of it) changes nothing the first run did not already change.
"""

from dbos import DBOS

from . import mailer, payments, warehouse
from .warehouse import CarrierRefused, OutOfStock

ORDERS_QUEUE = "orders"
ORDERS_PER_SECOND = 10  # the payment provider's rate limit
APPROVAL_THRESHOLD = 1000  # EUR: larger orders wait for a manager
APPROVAL_TIMEOUT_SEC = 24 * 3600  # nobody decided in a day: cancel


@DBOS.step()
def reserve_stock(order_id: str, item: str, quantity: int) -> None:
    warehouse.reserve(order_id, item, quantity)


@DBOS.step()
def release_stock(order_id: str) -> None:
    warehouse.release(order_id)


@DBOS.step()
def charge_payment(order_id: str, amount: int) -> str:
    return payments.charge(f"{order_id}/charge", order_id, amount)


@DBOS.step()
def refund_payment(order_id: str, amount: int) -> str:
    return payments.refund(f"{order_id}/refund", order_id, amount)


# Retry the carrier's hiccups; a refusal is final, so do not retry that.
@DBOS.step(retries_allowed=True, max_attempts=4, interval_seconds=0.2,
           should_retry=lambda error: not isinstance(error, CarrierRefused))
def ship_parcel(order_id: str, country: str) -> str:
    return warehouse.ship(order_id, country)


@DBOS.step(retries_allowed=True, max_attempts=4, interval_seconds=0.2)
def notify_customer(order_id: str, email: str, text: str) -> None:
    mailer.send(f"{order_id}/shipped", email, text)


def publish(status: str) -> None:
    """Where the order is: an event for "now", a stream for the whole story."""
    DBOS.set_event("status", status)
    DBOS.write_stream("progress", status)


def finish(status: str) -> str:
    publish(status)
    DBOS.close_stream("progress")
    return status


@DBOS.workflow()
def process_order(order: dict) -> str:
    order_id = DBOS.workflow_id  # the client's Idempotency-Key
    publish("received")
    try:
        reserve_stock(order_id, order["item"], order["quantity"])
    except OutOfStock:
        return finish("rejected: out of stock")
    publish("reserved")

    if order["amount"] >= APPROVAL_THRESHOLD:
        publish("awaiting approval")
        decision = DBOS.recv("decision", timeout_seconds=APPROVAL_TIMEOUT_SEC)
        if decision != "approve":  # "cancel", or no decision in time
            release_stock(order_id)
            return finish("cancelled")

    DBOS.set_event("payment_id", charge_payment(order_id, order["amount"]))
    publish("paid")

    try:
        tracking = ship_parcel(order_id, order["country"])
    except CarrierRefused:
        # A later step failed for good: undo the earlier ones, newest first.
        refund_payment(order_id, order["amount"])
        release_stock(order_id)
        return finish("refunded: the carrier does not deliver there")
    DBOS.set_event("tracking", tracking)
    publish("shipped")

    notify_customer(order_id, order["email"],
                    f"Your {order['item']} is on its way: {tracking}")
    return finish("completed")
