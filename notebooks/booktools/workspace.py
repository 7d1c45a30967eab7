"""A fresh, private working folder (and system database) for each chapter."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .preflight import check as check_python_and_sqlite

# Every chapter works under notebooks/scratch/<chapter>/ (ignored by git).
SCRATCH = Path(__file__).resolve().parent.parent / "scratch"


@dataclass(frozen=True)
class Workspace:
    """Where a chapter keeps its files, and the system database it uses."""

    chapter: str
    dir: Path
    system_database_url: str

    def path(self, name: str) -> Path:
        return self.dir / name

    def child_env(self) -> dict[str, str]:
        """Environment for a child process: it finds the same system database."""
        return {"DBOS_SYSTEM_DATABASE_URL": self.system_database_url}


def fresh_workspace(chapter: str) -> Workspace:
    """Empty the chapter's folder and return it with its system database URL.

    With DBOS_SYSTEM_DATABASE_URL unset (the default) the database is a SQLite
    file inside the folder, so deleting the folder deletes the database. When
    DBOS_SYSTEM_DATABASE_URL points at Postgres, the chapter gets a database of
    its own on that server, named after the chapter.

    First it checks this Python and its SQLite can run the book, and if not, stops the chapter
    with one sentence on what to do (booktools/preflight.py), before DBOS gets to fail obscurely.
    """
    check_python_and_sqlite()
    folder = SCRATCH / chapter
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    server_url = os.environ.get("DBOS_SYSTEM_DATABASE_URL")
    if server_url and server_url.startswith("postgres"):
        url = _postgres_database_for(server_url, f"dbos_book_{chapter}")
    else:
        url = f"sqlite:///{folder / 'dbos_system.sqlite'}"
    return Workspace(chapter=chapter, dir=folder, system_database_url=url)


def _postgres_database_for(server_url: str, database: str) -> str:
    """Same server and credentials, a database of the chapter's own, emptied."""
    import sqlalchemy as sa

    # psycopg 3 is the driver DBOS installs; name it so SQLAlchemy does not look for psycopg2.
    base = sa.make_url(server_url).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    admin.dispose()
    # DBOS creates the database itself at launch.
    return base.set(database=database).render_as_string(hide_password=False)
