"""A local stand-in for a payment provider.

Like real providers, it takes an idempotency key with every request: a request
repeated with a key it has seen returns the first answer and moves no money.
Its ledger (payments.sqlite) is what the chapter checks for "charged once".
"""

import hashlib
import time

from .store import read, transaction

LATENCY_SEC = 0.2  # how long the provider takes to answer

SCHEMA = """
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS ledger (
    idempotency_key TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL,
    kind TEXT NOT NULL,          -- 'charge' or 'refund'
    order_id TEXT NOT NULL,
    amount INTEGER NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    idempotency_key TEXT NOT NULL,  -- every request, repeats included
    at REAL NOT NULL,
    answered_at REAL                -- NULL while the answer is on its way
);
"""


def _move_money(idempotency_key: str, kind: str, order_id: str, amount: int) -> str:
    digest = hashlib.sha1(idempotency_key.encode()).hexdigest()
    payment_id = f"{kind[:2]}_{digest[:10]}"  # the same key, the same ID
    with transaction("payments.sqlite", SCHEMA) as db:
        now = time.time()
        request = db.execute(
            "INSERT INTO requests (idempotency_key, at) VALUES (?, ?)",
            (idempotency_key, now),
        ).lastrowid
        db.execute(
            "INSERT OR IGNORE INTO ledger VALUES (?, ?, ?, ?, ?, ?)",
            (idempotency_key, payment_id, kind, order_id, amount, now),
        )
    time.sleep(LATENCY_SEC)  # the money has moved; the answer is on its way
    with transaction("payments.sqlite", SCHEMA) as db:
        db.execute("UPDATE requests SET answered_at = ? WHERE rowid = ?",
                   (time.time(), request))
    return payment_id


def charge(idempotency_key: str, order_id: str, amount: int) -> str:
    """Charge the customer for an order; return the payment's ID."""
    return _move_money(idempotency_key, "charge", order_id, amount)


def refund(idempotency_key: str, order_id: str, amount: int) -> str:
    """Give an order's money back; return the refund's ID."""
    return _move_money(idempotency_key, "refund", order_id, amount)


def ledger() -> list[dict]:
    """Every payment that moved money, oldest first."""
    rows = read("payments.sqlite", SCHEMA,
                "SELECT kind, order_id, amount, at FROM ledger ORDER BY at")
    return [dict(zip(("kind", "order_id", "amount", "at"), row)) for row in rows]


def requests_received() -> int:
    """How many requests reached the provider, repeats included."""
    return read("payments.sqlite", SCHEMA, "SELECT COUNT(*) FROM requests")[0][0]


def answers_on_their_way() -> int:
    """Requests carried out, whose answer has not been sent back yet."""
    query = "SELECT COUNT(*) FROM requests WHERE answered_at IS NULL"
    return read("payments.sqlite", SCHEMA, query)[0][0]
