"""A local stand-in for a loyalty programme the shop has just joined.

It credits points to a customer. Like the payment provider it accepts an
idempotency key, but it does not insist on one: without a key, every request
credits points. Its network is unreliable: `lose_answers(n)` makes the next n
answers go missing after the points were credited, as when a request times
out on its way back. (The order workflow does not use it yet: chapter 14's
first exercise adds the step.)
"""

import threading
import time
import uuid

from .store import read, transaction

SCHEMA = """
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS credits (
    idempotency_key TEXT PRIMARY KEY, email TEXT NOT NULL, points INTEGER NOT NULL,
    at REAL NOT NULL
);
"""

_lost = {"answers": 0}
_lock = threading.Lock()


class AnswerLost(ConnectionError):
    """The request was carried out, but its answer never arrived."""


def lose_answers(count: int) -> None:
    with _lock:
        _lost["answers"] = count


def add_points(email: str, points: int, idempotency_key: str | None = None) -> int:
    """Credit points to a customer (once per key); return their balance."""
    key = idempotency_key or f"no-key-{uuid.uuid4()}"
    with transaction("loyalty.sqlite", SCHEMA) as db:
        db.execute(
            "INSERT OR IGNORE INTO credits VALUES (?, ?, ?, ?)",
            (key, email, points, time.time()),
        )
    with _lock:
        if _lost["answers"] > 0:
            _lost["answers"] -= 1
            raise AnswerLost("no answer from the loyalty programme (timed out)")
    return balance(email)


def balance(email: str) -> int:
    return sum(credits(email))


def credits(email: str) -> list[int]:
    """The points credited to a customer, one entry per credit, oldest first."""
    rows = read("loyalty.sqlite", SCHEMA,
                "SELECT points FROM credits WHERE email = ? ORDER BY at", email)
    return [points for (points,) in rows]
