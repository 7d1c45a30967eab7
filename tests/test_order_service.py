"""The capstone's order service (notebooks/order_service), tested on its own.

Most tests drive the FastAPI app in-process with TestClient, which runs the
lifespan (so DBOS is launched and destroyed as in production) on a SQLite
system database in tmp_path; the stock, the service's own database, is read
on the app's event loop (client.portal), where the lifespan opened it. The
last test serves it with uvicorn in a child process and kills that process
with SIGKILL, then checks the payments ledger and the stock.
"""

import os
import socket
import sqlite3
import time
import warnings
from pathlib import Path

import httpx
import pytest
from dbos import DBOS

with warnings.catch_warnings():
    # Starlette suggests httpx2 for its TestClient; the httpx the book pins works.
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

from booktools import Worker
from order_service import app as order_app
from order_service import mailer, payments, stock, warehouse

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def an_order(**changes) -> dict:
    order = {"email": "ada@example.com", "item": "kettle", "quantity": 1,
             "amount": 40, "country": "FR"}
    return {**order, **changes}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("order_service")
    saved = {name: os.environ.get(name)
             for name in ("DBOS_SYSTEM_DATABASE_URL", "ORDER_SERVICE_DATA")}
    os.environ["DBOS_SYSTEM_DATABASE_URL"] = f"sqlite:///{folder / 'system.sqlite'}"
    os.environ["ORDER_SERVICE_DATA"] = str(folder)
    yield folder
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
def client(data_dir):
    DBOS.destroy()  # a DBOS left by another test module
    with TestClient(order_app.app) as test_client:  # runs the lifespan
        yield test_client


def wait_for_status(client, order_id: str, wanted: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/orders/{order_id}").json()
        if body["status"] == wanted:
            return body
        assert time.monotonic() < deadline, f"{order_id} is {body['status']!r}, not {wanted!r}"
        time.sleep(0.05)


def available(client, item: str) -> int:
    return client.portal.call(stock.available, item)


def ledger_for(order_id: str) -> list[str]:
    return [entry["kind"] for entry in payments.ledger() if entry["order_id"] == order_id]


def test_an_order_is_reserved_charged_shipped_and_notified(client):
    response = client.post("/orders", json=an_order(), headers={"Idempotency-Key": "t-1"})
    assert response.status_code == 202
    assert response.json() == {"order_id": "t-1"}
    body = wait_for_status(client, "t-1", "completed")
    assert body["payment_id"].startswith("ch_") and body["tracking"].startswith("TRK-")
    assert ledger_for("t-1") == ["charge"]
    assert [s["order_id"] for s in warehouse.shipments()].count("t-1") == 1
    assert [m["idempotency_key"] for m in mailer.outbox()].count("t-1/shipped") == 1


def test_the_same_key_is_the_same_order(client):
    first = client.post("/orders", json=an_order(), headers={"Idempotency-Key": "t-2"})
    again = client.post("/orders", json=an_order(), headers={"Idempotency-Key": "t-2"})
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json() == again.json() == {"order_id": "t-2"}
    wait_for_status(client, "t-2", "completed")
    assert ledger_for("t-2") == ["charge"]


def test_an_order_needs_a_key_and_a_valid_body(client):
    assert client.post("/orders", json=an_order()).status_code == 422
    bad = an_order(quantity=0)
    assert client.post("/orders", json=bad, headers={"Idempotency-Key": "t-3"}).status_code == 422
    assert client.get("/orders/t-3").status_code == 404


def test_a_large_order_waits_for_approval(client):
    stock_before = available(client, "espresso machine")
    big = an_order(item="espresso machine", amount=1200)
    client.post("/orders", json=big, headers={"Idempotency-Key": "t-big-yes"})
    client.post("/orders", json=big, headers={"Idempotency-Key": "t-big-no"})
    wait_for_status(client, "t-big-yes", "awaiting approval")
    wait_for_status(client, "t-big-no", "awaiting approval")
    assert ledger_for("t-big-yes") == []

    assert client.post("/orders/t-big-yes/approve").status_code == 202
    assert client.post("/orders/t-big-no/cancel").status_code == 202
    wait_for_status(client, "t-big-yes", "completed")
    wait_for_status(client, "t-big-no", "cancelled")
    assert ledger_for("t-big-yes") == ["charge"]
    assert ledger_for("t-big-no") == []  # nothing charged, and the stock is back
    assert available(client, "espresso machine") == stock_before - 1

    # Deciding again, or about an order that is not waiting, is refused.
    assert client.post("/orders/t-big-yes/cancel").status_code == 409
    assert client.post("/orders/nobody/approve").status_code == 404


def test_a_refused_shipment_is_compensated(client):
    stock_before = available(client, "teapot")
    order = an_order(item="teapot", country="US")
    client.post("/orders", json=order, headers={"Idempotency-Key": "t-us"})
    body = wait_for_status(client, "t-us", "refunded: the carrier does not deliver there")
    assert body["payment_id"] is not None and body["tracking"] is None
    assert ledger_for("t-us") == ["charge", "refund"]
    assert available(client, "teapot") == stock_before
    steps = [s["function_name"] for s in DBOS.list_workflow_steps("t-us")]
    assert steps.count("ship_parcel") == 1  # a refusal is not retried


def test_out_of_stock_is_rejected_without_a_charge(client):
    order = an_order(item="espresso machine", quantity=50)
    client.post("/orders", json=order, headers={"Idempotency-Key": "t-none-left"})
    wait_for_status(client, "t-none-left", "rejected: out of stock")
    assert ledger_for("t-none-left") == []


def test_progress_is_streamed_from_any_offset(client):
    client.post("/orders", json=an_order(), headers={"Idempotency-Key": "t-stream"})
    with client.stream("GET", "/orders/t-stream/progress") as response:
        lines = list(response.iter_lines())  # follows the order until it finishes
    assert lines == ["received", "reserved", "paid", "shipped", "completed"]
    tail = client.get("/orders/t-stream/progress", params={"offset": 3}).text
    assert tail.splitlines() == ["shipped", "completed"]


def test_outside_services_ignore_repeated_keys(data_dir):
    first = payments.charge("t-repeat/charge", "t-repeat", 10)
    assert payments.charge("t-repeat/charge", "t-repeat", 10) == first
    assert ledger_for("t-repeat") == ["charge"]
    assert warehouse.ship("t-repeat", "FR") == warehouse.ship("t-repeat", "FR")
    assert [s["order_id"] for s in warehouse.shipments()].count("t-repeat") == 1


def test_stock_is_written_in_datasource_transactions(client):
    """A finished order leaves its reservation; its transaction's checkpoint is gone."""
    before = available(client, "mug")
    order = an_order(item="mug", quantity=3)
    client.post("/orders", json=order, headers={"Idempotency-Key": "t-mugs"})
    wait_for_status(client, "t-mugs", "completed")
    assert available(client, "mug") == before - 3
    assert client.portal.call(stock.reservations)["t-mugs"] == ("mug", 3)
    steps = [s["function_name"] for s in DBOS.list_workflow_steps("t-mugs")]
    assert steps.count("reserve_stock") == 1
    # DBOS drops a workflow's datasource checkpoints once it has finished, which can be a
    # moment after the order's status says "completed".
    DBOS.retrieve_workflow("t-mugs").get_result(polling_interval_sec=0.05)
    poll(lambda: "t-mugs" not in client.portal.call(stock.checkpoints))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def poll(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_killed_server_finishes_its_orders_after_a_restart(tmp_path, monkeypatch):
    """SIGKILL while a big order awaits approval and a charge's answer is on its way."""
    port = free_port()
    env = {"DBOS_SYSTEM_DATABASE_URL": f"sqlite:///{tmp_path / 'system.sqlite'}",
           "ORDER_SERVICE_DATA": str(tmp_path), "PYTHONPATH": str(NOTEBOOKS)}
    server = Worker("-m", "uvicorn", "order_service.app:app", "--port", str(port),
                    "--no-access-log", cwd=tmp_path, env=env)
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("ORDER_SERVICE_DATA", str(tmp_path))  # read the server's ledgers
    big = an_order(item="espresso machine", amount=1500)
    small = [f"k-small-{n}" for n in range(4)]

    def status(order_id: str) -> str:
        return httpx.get(f"{url}/orders/{order_id}").json()["status"]

    try:
        server.start()
        server.wait_for("order service ready")
        assert httpx.post(f"{url}/orders", json=big,
                          headers={"Idempotency-Key": "k-big"}).status_code == 202
        poll(lambda: status("k-big") == "awaiting approval")
        for key in small:
            httpx.post(f"{url}/orders", json=an_order(), headers={"Idempotency-Key": key})
        poll(lambda: payments.answers_on_their_way() > 0)
        server.kill()  # SIGKILL: no shutdown, no clean-up
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/orders/k-big")

        server.start()
        server.wait_for("order service ready")
        assert httpx.post(f"{url}/orders", json=big,
                          headers={"Idempotency-Key": "k-big"}).status_code == 200
        assert httpx.post(f"{url}/orders/k-big/approve").status_code == 202
        poll(lambda: all(status(key) == "completed" for key in ["k-big", *small]))
        progress = httpx.get(f"{url}/orders/k-big/progress").text.splitlines()
        assert progress == ["received", "reserved", "awaiting approval", "paid",
                            "shipped", "completed"]
    finally:
        server.kill()
    charged = sorted(entry["order_id"] for entry in payments.ledger())
    assert charged == sorted(["k-big", *small])  # once each
    assert payments.requests_received() > len(charged)  # a repeat, absorbed
    with sqlite3.connect(tmp_path / "shop.sqlite") as shop:  # the service's own data
        reserved = dict(shop.execute("SELECT order_id, quantity FROM reservations"))
        left = dict(shop.execute("SELECT item, available FROM stock"))
    assert reserved == {key: 1 for key in ["k-big", *small]}  # once each
    assert left["kettle"] == stock.STOCK["kettle"] - len(small)
    assert left["espresso machine"] == stock.STOCK["espresso machine"] - 1
