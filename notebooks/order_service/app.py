"""The order service's HTTP API.

    POST /orders                  place an order (Idempotency-Key header)
    GET  /orders/{id}             its status, from the workflow's events
    POST /orders/{id}/approve     a manager's decision, sent as a message
    POST /orders/{id}/cancel
    GET  /orders/{id}/progress    its progress, streamed line by line

Serve it with:  uvicorn order_service.app:app --port 8000
"""

import os
import sqlite3
from contextlib import asynccontextmanager, closing
from typing import Annotated

from dbos import AsyncSQLAlchemyDatasource, DBOS, DBOSConfig, SetWorkflowID, error
from fastapi import FastAPI, Header, HTTPException, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from . import stock
from .workflows import ORDERS_PER_SECOND, ORDERS_QUEUE, process_order


def dbos_config() -> DBOSConfig:
    return {
        "name": "order-service",
        "system_database_url": os.environ.get(
            "DBOS_SYSTEM_DATABASE_URL", "sqlite:///order_service.sqlite"
        ),
        # A restarted server recovers the work of the same executor and version.
        "application_version": "order-service-1.0",
        "executor_id": os.environ.get("ORDER_SERVICE_EXECUTOR_ID", "local"),
        "log_level": "WARNING",
        # On SQLite, waiting for events, messages and streams means polling.
        "notification_listener_polling_interval_sec": 0.05,
    }


def use_wal_if_sqlite(database_url: str) -> None:
    """On SQLite, let readers and the writer work at the same time (WAL mode)."""
    prefix = "sqlite:///"
    if database_url.startswith(prefix):
        with closing(sqlite3.connect(database_url[len(prefix):])) as database:
            database.execute("PRAGMA journal_mode=WAL")


@asynccontextmanager
async def lifespan(app: FastAPI):
    # Configure and launch when the server starts, not when this file is imported.
    config = dbos_config()
    use_wal_if_sqlite(config["system_database_url"])
    DBOS(config=config)
    # The service's own database, for its transactions: created before the launch.
    url = stock.database_url(config["system_database_url"])
    stock.db = await AsyncSQLAlchemyDatasource.create(url)
    await stock.create_tables()
    DBOS.launch()  # recovers the orders a crashed server left unfinished
    await DBOS.register_queue_async(  # in async code, the _async variant
        ORDERS_QUEUE,
        limiter={"limit": ORDERS_PER_SECOND, "period": 1},
        polling_interval_sec=0.1,
    )
    print("order service ready", flush=True)
    try:
        yield
    finally:
        DBOS.destroy()
        await stock.db.engine.dispose()


app = FastAPI(title="order service", lifespan=lifespan)


class Order(BaseModel):
    email: str
    item: str
    quantity: int = Field(default=1, gt=0)
    amount: int = Field(gt=0)  # EUR
    country: str


@app.post("/orders", status_code=202)
async def place_order(
    order: Order, response: Response, idempotency_key: Annotated[str, Header()]
) -> dict:
    try:
        # The client's key is the workflow ID: one key, one order, however often
        # the request is repeated.
        with SetWorkflowID(idempotency_key, workflow_id_reuse_policy="reject"):
            await DBOS.enqueue_workflow_async(
                ORDERS_QUEUE, process_order, order.model_dump()
            )
    except error.DBOSWorkflowIDInUseError:
        response.status_code = 200  # placed before: nothing new was started
    return {"order_id": idempotency_key}


async def order_events(order_id: str) -> dict:
    if await DBOS.get_workflow_status_async(order_id) is None:
        raise HTTPException(404, f"no order {order_id}")
    return await DBOS.get_all_events_async(order_id)


@app.get("/orders/{order_id}")
async def order_status(order_id: str) -> dict:
    events = await order_events(order_id)
    return {
        "order_id": order_id,
        "status": events.get("status", "queued"),  # no event yet: still queued
        "payment_id": events.get("payment_id"),
        "tracking": events.get("tracking"),
    }


async def decide(order_id: str, decision: str) -> dict:
    events = await order_events(order_id)
    if events.get("status") != "awaiting approval":
        raise HTTPException(409, f"order {order_id} is not awaiting approval")
    # One decision per order: a second one, or a repeated request, is dropped.
    await DBOS.send_async(order_id, decision, topic="decision",
                          idempotency_key=f"{order_id}/decision")
    return {"order_id": order_id, "decision": decision}


@app.post("/orders/{order_id}/approve", status_code=202)
async def approve(order_id: str) -> dict:
    return await decide(order_id, "approve")


@app.post("/orders/{order_id}/cancel", status_code=202)
async def cancel(order_id: str) -> dict:
    return await decide(order_id, "cancel")


@app.get("/orders/{order_id}/progress")
async def progress(order_id: str, offset: int = 0) -> StreamingResponse:
    await order_events(order_id)  # 404 for an unknown order

    async def lines():
        # From `offset` on: a client that lost its connection resumes there.
        async for status in DBOS.read_stream_async(
            order_id, "progress", offset=offset
        ):
            yield status + "\n"

    return StreamingResponse(lines(), media_type="text/plain")
