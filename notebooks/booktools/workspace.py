"""A fresh, private working folder (and system database) for each chapter."""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from .postgres import database_for
from .preflight import check as check_python_and_sqlite
from .processes import kill_all_children

NOTEBOOKS = Path(__file__).resolve().parent.parent
DECORATED = re.compile(r"^\s*@DBOS\.", re.M)  # a line that decorates a DBOS function

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

    Run All a second time in the same kernel starts from nothing too: the child processes (workers)
    of the first run are killed, so none keeps working on the emptied database, and modules of
    notebooks/ that register DBOS functions when imported are forgotten, so that importing them
    after `DBOS.destroy(destroy_registry=True)` registers their functions again.
    """
    check_python_and_sqlite()
    kill_all_children()
    _forget_modules_that_register_dbos_functions()
    folder = SCRATCH / chapter
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    server_url = os.environ.get("DBOS_SYSTEM_DATABASE_URL")
    if server_url and server_url.startswith("postgres"):
        url = database_for(server_url, f"dbos_book_{chapter}")
    else:
        url = f"sqlite:///{folder / 'dbos_system.sqlite'}"
    return Workspace(chapter=chapter, dir=folder, system_database_url=url)


def _forget_modules_that_register_dbos_functions() -> None:
    for name, module in list(sys.modules.items()):
        path = Path(getattr(module, "__file__", None) or "/")
        if path.is_relative_to(NOTEBOOKS) and path.is_file() and DECORATED.search(path.read_text()):
            del sys.modules[name]
            parent, _, child = name.rpartition(".")  # `from parent import child` looks here first
            if getattr(sys.modules.get(parent), child, None) is module:
                delattr(sys.modules[parent], child)
