"""The shop's stock, in the order service's own database.

payments.py, warehouse.py and mailer.py play outside services; this is the
order service's own data, which it writes itself, in DBOS datasource
transactions (workflows.py): each one commits in the same database
transaction as DBOS's record of it, a row in the table datasource_outputs, so
a workflow recovered after a crash never applies it twice, with no key.

The database: on Postgres, the system database itself (the shop's tables sit
beside DBOS's schema "dbos"); on SQLite, the file shop.sqlite in the
ORDER_SERVICE_DATA folder. The service opens it before DBOS.launch() (app.py).
"""

import os
from pathlib import Path

import sqlalchemy as sa
from dbos import AsyncSQLAlchemyDatasource

STOCK = {"kettle": 100, "teapot": 100, "mug": 500, "espresso machine": 5}

# Created at start-up, before DBOS.launch(): app.py's lifespan (or the notebook).
db: AsyncSQLAlchemyDatasource | None = None

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS stock ("
    " item TEXT PRIMARY KEY, available INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS reservations ("
    " order_id TEXT PRIMARY KEY, item TEXT NOT NULL, quantity INTEGER NOT NULL)",
]


class OutOfStock(Exception):
    """Not enough of the item left: the order cannot be served."""


def database_url(system_database_url: str) -> str:
    """The shop's database, an async driver's URL, next to the system database."""
    if system_database_url.startswith("postgres"):
        return system_database_url  # DBOS drives it with psycopg's async mode
    folder = Path(os.environ.get("ORDER_SERVICE_DATA", ".")).resolve()
    return f"sqlite+aiosqlite:///{folder / 'shop.sqlite'}"  # aiosqlite: async SQLite


async def create_tables() -> None:
    """The shop's tables and its opening stock, if they are not there yet."""
    async with db.engine.begin() as conn:
        for statement in SCHEMA:
            await conn.execute(sa.text(statement))
        await conn.execute(
            sa.text("INSERT INTO stock VALUES (:item, :available) "
                    "ON CONFLICT (item) DO NOTHING"),
            [{"item": item, "available": count} for item, count in STOCK.items()],
        )


# The two transactions. Run them with db.run_tx_step_async (workflows.py): inside,
# db.sql_session() is the transaction's session, committed when the function returns.

async def reserve(order_id: str, item: str, quantity: int) -> None:
    """Set the items aside for the order."""
    session = db.sql_session()
    taken = await session.execute(
        sa.text("UPDATE stock SET available = available - :quantity "
                "WHERE item = :item AND available >= :quantity"),
        {"item": item, "quantity": quantity},
    )
    if taken.rowcount == 0:
        raise OutOfStock(f"not enough of {item!r} left for {quantity}")
    await session.execute(
        sa.text("INSERT INTO reservations VALUES (:order_id, :item, :quantity)"),
        {"order_id": order_id, "item": item, "quantity": quantity},
    )


async def release(order_id: str) -> None:
    """Put an order's reserved items back on the shelf."""
    session = db.sql_session()
    row = (await session.execute(
        sa.text("SELECT item, quantity FROM reservations WHERE order_id = :order_id"),
        {"order_id": order_id},
    )).first()
    if row is None:
        return  # nothing was reserved
    await session.execute(sa.text("DELETE FROM reservations WHERE order_id = :order_id"),
                          {"order_id": order_id})
    await session.execute(
        sa.text("UPDATE stock SET available = available + :quantity WHERE item = :item"),
        {"item": row.item, "quantity": row.quantity},
    )


# Reading, outside any transaction: the datasource's engine is a SQLAlchemy AsyncEngine.

async def _rows(query: str, **params) -> list:
    async with db.engine.connect() as conn:
        return (await conn.execute(sa.text(query), params)).all()


async def available(item: str) -> int:
    """How many of the item are left to reserve."""
    rows = await _rows("SELECT available FROM stock WHERE item = :item", item=item)
    return rows[0][0]


async def reservations() -> dict[str, tuple[str, int]]:
    """Every reservation held: order ID -> (item, quantity)."""
    rows = await _rows("SELECT order_id, item, quantity FROM reservations")
    return {order_id: (item, quantity) for order_id, item, quantity in rows}


async def checkpoints() -> list[str]:
    """The workflow IDs in DBOS's table datasource_outputs, one per transaction.

    A workflow's rows go when it finishes: they only matter while it may be recovered."""
    table = sa.table("datasource_outputs", sa.column("workflow_id"), schema=db.schema)
    async with db.engine.connect() as conn:
        return list((await conn.execute(sa.select(table.c.workflow_id))).scalars())
