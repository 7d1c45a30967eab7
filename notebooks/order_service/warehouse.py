"""A local stand-in for the warehouse's carrier, which ships the parcels.

It is keyed by order ID, so shipping the same order twice changes nothing the
second time. (The stock is the order service's own data: stock.py.)
"""

import hashlib
import time

from .store import read, transaction

COUNTRIES_SERVED = {"DE", "ES", "FR", "IT", "NL", "PT"}

SCHEMA = """
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS shipments (
    order_id TEXT PRIMARY KEY,
    tracking TEXT NOT NULL,
    country TEXT NOT NULL,
    at REAL NOT NULL
);
"""


class CarrierRefused(Exception):
    """The carrier will not take the parcel (it does not serve that country)."""


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


def shipments() -> list[dict]:
    """Every parcel handed to the carrier."""
    columns = ("order_id", "tracking", "country", "at")
    query = f"SELECT {', '.join(columns)} FROM shipments"
    rows = read("warehouse.sqlite", SCHEMA, query)
    return [dict(zip(columns, row)) for row in rows]
