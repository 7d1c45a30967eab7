"""A local stand-in for the warehouse: stock, and the carrier that ships.

Both are keyed by order ID, so doing the same thing twice for an order changes
nothing the second time.
"""

import hashlib
import time

from .store import read, transaction

STOCK = {"kettle": 100, "teapot": 100, "mug": 500, "espresso machine": 5}
COUNTRIES_SERVED = {"DE", "ES", "FR", "IT", "NL", "PT"}

SCHEMA = """
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS stock (
    item TEXT PRIMARY KEY,
    available INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS reservations (
    order_id TEXT PRIMARY KEY,
    item TEXT NOT NULL,
    quantity INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS shipments (
    order_id TEXT PRIMARY KEY,
    tracking TEXT NOT NULL,
    country TEXT NOT NULL,
    at REAL NOT NULL
);
"""


class OutOfStock(Exception):
    """Not enough of the item left: the order cannot be served."""


class CarrierRefused(Exception):
    """The carrier will not take the parcel (it does not serve that country)."""


def _stock_in(db) -> None:
    db.executemany("INSERT OR IGNORE INTO stock VALUES (?, ?)", STOCK.items())


def reserve(order_id: str, item: str, quantity: int) -> None:
    """Set the items aside for the order, once."""
    with transaction("warehouse.sqlite", SCHEMA) as db:
        _stock_in(db)
        added = db.execute(
            "INSERT OR IGNORE INTO reservations VALUES (?, ?, ?)",
            (order_id, item, quantity),
        ).rowcount
        if not added:
            return  # a repeated request: the reservation is already made
        taken = db.execute(
            "UPDATE stock SET available = available - ? "
            "WHERE item = ? AND available >= ?",
            (quantity, item, quantity),
        ).rowcount
        if not taken:
            raise OutOfStock(f"not enough of {item!r} left for {quantity}")


def release(order_id: str) -> None:
    """Put an order's reserved items back on the shelf, once."""
    with transaction("warehouse.sqlite", SCHEMA) as db:
        _stock_in(db)
        query = "SELECT item, quantity FROM reservations WHERE order_id = ?"
        row = db.execute(query, (order_id,)).fetchone()
        if row is None:
            return  # nothing reserved, or already released
        item, quantity = row
        db.execute("DELETE FROM reservations WHERE order_id = ?", (order_id,))
        db.execute(
            "UPDATE stock SET available = available + ? WHERE item = ?",
            (quantity, item),
        )


def ship(order_id: str, country: str) -> str:
    """Hand the parcel to the carrier; return its tracking number."""
    if country not in COUNTRIES_SERVED:
        raise CarrierRefused(f"the carrier does not deliver to {country}")
    tracking = "TRK-" + hashlib.sha1(order_id.encode()).hexdigest()[:8].upper()
    with transaction("warehouse.sqlite", SCHEMA) as db:
        db.execute(
            "INSERT OR IGNORE INTO shipments VALUES (?, ?, ?, ?)",
            (order_id, tracking, country, time.time()),
        )
    return tracking


def available(item: str) -> int:
    """How many of the item are left to reserve."""
    with transaction("warehouse.sqlite", SCHEMA) as db:
        _stock_in(db)
        query = "SELECT available FROM stock WHERE item = ?"
        return db.execute(query, (item,)).fetchone()[0]


def shipments() -> list[dict]:
    """Every parcel handed to the carrier."""
    columns = ("order_id", "tracking", "country", "at")
    query = f"SELECT {', '.join(columns)} FROM shipments"
    rows = read("warehouse.sqlite", SCHEMA, query)
    return [dict(zip(columns, row)) for row in rows]
