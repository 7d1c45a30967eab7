"""A small order service: FastAPI in front, DBOS workflows behind.

The capstone of *Durable Python with DBOS* (chapter 14) serves it with uvicorn,
sends it a burst of orders, kills it with SIGKILL and restarts it.

- app.py        the FastAPI application; DBOS is configured and launched in
                its lifespan
- workflows.py  the order workflow, its steps and its transactions
- stock.py      the shop's stock: the service's own database, written in
                DBOS datasource transactions
- payments.py   a local stand-in for a payment provider, with a ledger
- warehouse.py  a local stand-in for the warehouse's carrier
- mailer.py     a local stand-in for an e-mail service
- loyalty.py    a local stand-in for a loyalty programme (for an exercise)
- store.py      where the stand-ins keep their data (SQLite files)

Run it from a folder where it may write its files:
    uvicorn order_service.app:app --port 8000
"""
