"""A local stand-in for an e-mail service: it keeps an outbox, one row a message.

Messages carry an idempotency key too, so a repeated request sends nothing new.
"""

import time

from .store import read, transaction

SCHEMA = """
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS outbox (
    idempotency_key TEXT PRIMARY KEY,
    recipient TEXT NOT NULL,
    text TEXT NOT NULL,
    at REAL NOT NULL
);
"""
COLUMNS = ("idempotency_key", "recipient", "text", "at")


def send(idempotency_key: str, recipient: str, text: str) -> None:
    with transaction("mailer.sqlite", SCHEMA) as db:
        db.execute(
            "INSERT OR IGNORE INTO outbox VALUES (?, ?, ?, ?)",
            (idempotency_key, recipient, text, time.time()),
        )


def outbox() -> list[dict]:
    """Every message sent, oldest first."""
    rows = read("mailer.sqlite", SCHEMA, f"SELECT {', '.join(COLUMNS)} FROM outbox")
    return sorted((dict(zip(COLUMNS, row)) for row in rows), key=lambda m: m["at"])
