"""The floor: one committed write, straight through the database driver.

Any durable program pays at least this for each write it makes, with or without DBOS:
the database commits, which means waiting until the data is safely on disk. Chapter 11
reads DBOS's figures as multiples of it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa


class SQLiteFloor:
    """INSERT + COMMIT on a SQLite file, with DBOS's own connection settings.

    dbos/_sys_db_sqlite.py opens every connection with isolation_level
    "IMMEDIATE" (each transaction takes the write lock at its start),
    PRAGMA busy_timeout=30000 and PRAGMA foreign_keys=ON, and leaves journal
    mode and synchronous at SQLite's defaults: a rollback journal ("delete")
    and synchronous=FULL, so every commit waits for the disk.
    """

    backend = "SQLite"

    def __init__(self, path: str | Path):
        self.conn = sqlite3.connect(path, isolation_level="IMMEDIATE",
                                    check_same_thread=False)
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("CREATE TABLE IF NOT EXISTS floor"
                          " (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
        self.conn.commit()

    def write(self, i: int = 0) -> None:
        self.conn.execute("INSERT INTO floor (payload) VALUES (?)", (f"row {i}",))
        self.conn.commit()

    def settings(self) -> dict:
        def pragma(name: str):
            return self.conn.execute(f"PRAGMA {name}").fetchone()[0]

        synchronous = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
        return {
            "journal_mode": pragma("journal_mode"),
            "synchronous": synchronous[pragma("synchronous")],
            "busy_timeout": pragma("busy_timeout"),
        }

    def close(self) -> None:
        self.conn.close()


class PostgresFloor:
    """INSERT + COMMIT on Postgres, through psycopg (the driver DBOS uses), with
    the server's defaults (fsync on, synchronous_commit on)."""

    backend = "Postgres"

    def __init__(self, url: str):
        import psycopg

        conninfo = sa.make_url(url).set(drivername="postgresql")
        self.conn = psycopg.connect(conninfo.render_as_string(hide_password=False))
        self.conn.execute("CREATE TABLE IF NOT EXISTS bench_floor"
                          " (id BIGSERIAL PRIMARY KEY, payload TEXT NOT NULL)")
        self.conn.commit()

    def write(self, i: int = 0) -> None:
        self.conn.execute("INSERT INTO bench_floor (payload) VALUES (%s)", (f"row {i}",))
        self.conn.commit()

    def settings(self) -> dict:
        show = lambda name: self.conn.execute(f"SHOW {name}").fetchone()[0]  # noqa: E731
        values = {name: show(name) for name in ("fsync", "synchronous_commit")}
        self.conn.commit()
        return values

    def close(self) -> None:
        self.conn.close()


def open_floor(url: str, folder: str | Path) -> SQLiteFloor | PostgresFloor:
    """The floor for the backend of `url` (a DBOS system database URL): for SQLite,
    a file of its own in `folder`; for Postgres, a table in the same database."""
    if url.startswith("sqlite"):
        return SQLiteFloor(Path(folder) / "floor.sqlite")
    return PostgresFloor(url)
