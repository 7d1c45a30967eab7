"""Where the stand-ins for outside services keep their data.

Each one is a SQLite file in the folder named by ORDER_SERVICE_DATA (the
working directory by default). These files are not DBOS's system database:
they play the outside world, which outlives any crash of the order service.
"""

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def _connect(filename: str, schema: str) -> sqlite3.Connection:
    folder = Path(os.environ.get("ORDER_SERVICE_DATA", "."))
    connection = sqlite3.connect(folder / filename, timeout=30,
                                 isolation_level=None)  # transactions by hand
    connection.executescript(schema)  # the tables, if they are not there yet
    return connection


@contextmanager
def transaction(filename: str, schema: str) -> Iterator[sqlite3.Connection]:
    """One write transaction on the file: committed, or rolled back on error."""
    connection = _connect(filename, schema)
    try:
        connection.execute("BEGIN IMMEDIATE")  # take the write lock at once
        try:
            yield connection
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    finally:
        connection.close()


def read(filename: str, schema: str, query: str, *params) -> list[tuple]:
    """The rows a query returns, without holding up the writers."""
    connection = _connect(filename, schema)
    try:
        return connection.execute(query, params).fetchall()
    finally:
        connection.close()
