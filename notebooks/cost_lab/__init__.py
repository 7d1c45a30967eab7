"""What durability costs: the code chapter 11 of *Durable Python with DBOS* measures.

- measure.py  the functions measured (a plain function, a step, a one-step workflow,
              a workflow of n steps) and `measure()`, which launches DBOS on a
              database, times them, and destroys DBOS again
- floor.py    the yardstick: one committed write (INSERT + COMMIT) straight through
              the database driver, on SQLite and on Postgres

The chapter shows both files and runs `measure()` on each backend; `make bench` (from
notebooks/: `python -m booktools.bench`) runs the same `measure()` and prints a table.
The timing loop, the plots and the table are in booktools (`timing.py`, `bench.py`):
machinery around the lesson, with no DBOS call in them.
"""
