"""A throwaway PostgreSQL server on 127.0.0.1, removed afterwards however its owner ends.

One launcher for everything that needs a server nobody set up: `make test-postgres`
(scripts/with_postgres.sh runs this file with a command), `make bench` and chapter 11
(`booktools.bench.Postgres`). It uses the machine's PostgreSQL binaries
(/usr/lib/postgresql/<version>/bin, where Debian and Ubuntu put them), runs the server as an
unprivileged user when started by root (the server refuses root), and keeps PostgreSQL's
default durability settings (fsync on: chapter 11 measures what a committed write costs).

A watchdog process owns the server: it starts it, prints its URL, then waits until its standard
input closes, which happens when the process that started it finishes or dies (even by SIGKILL),
and then stops the server and deletes its files.

    python notebooks/booktools/postgres.py COMMAND [ARGS...]

runs COMMAND with DBOS_SYSTEM_DATABASE_URL pointing at a throwaway server and removes the server
afterwards, pass or fail. Standard library only, so it runs without the book's virtualenv.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Optional

OWNER = "dbosbook"  # the unprivileged user the server runs as when started by root
# 200 connections: a chapter's kernel, its workers and the checkers each hold a pool.
SERVER_OPTIONS = "-c listen_addresses=127.0.0.1 -c max_connections=200"


def binaries() -> Optional[Path]:
    """The newest /usr/lib/postgresql/<version>/bin with initdb, if any."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: [int(x) for x in p.parent.parent.name.split(".") if x.isdigit()])
    return found[-1].parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_for(server_url: str, database: str) -> str:
    """Same server and credentials, a database of its own (dropped if it exists; DBOS creates it
    at launch), as a URL for DBOS."""
    import sqlalchemy as sa

    # psycopg 3 is the driver DBOS installs; name it so SQLAlchemy does not look for psycopg2.
    base = sa.make_url(server_url).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    admin.dispose()
    return base.set(database=database).render_as_string(hide_password=False)


class ThrowawayPostgres:
    """A running throwaway server: `url` names its `postgres` database; `close()` removes it."""

    def __init__(self, port: Optional[int] = None, timeout: float = 60):
        bin_dir = binaries()
        if bin_dir is None:
            raise FileNotFoundError(
                "no PostgreSQL binaries in /usr/lib/postgresql/*/bin "
                "(Debian, Ubuntu: apt-get install postgresql)")
        self.port = port or free_port()
        self.version = bin_dir.parent.name
        self._watchdog = subprocess.Popen(
            [sys.executable, __file__, "--watchdog", str(bin_dir), str(self.port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            start_new_session=True,  # a Ctrl-C meant for the command does not reach it
        )
        line = _first_line(self._watchdog, timeout)
        if not line.startswith("postgresql://"):
            self.close()
            raise RuntimeError(f"the throwaway PostgreSQL server did not start: {line or 'timeout'}")
        self.url = line

    def close(self) -> None:
        if self._watchdog.poll() is None:
            self._watchdog.stdin.close()  # the watchdog stops and removes the server
            try:
                self._watchdog.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._watchdog.kill()
                self._watchdog.wait()

    def __enter__(self) -> "ThrowawayPostgres":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _first_line(proc: subprocess.Popen, timeout: float) -> str:
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0].strip() if lines else ""


def _as_owner(home: str) -> list[str]:
    """The command prefix that runs the server's tools as an unprivileged user, if we are root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(OWNER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        OWNER], check=True)
    owner = pwd.getpwnam(OWNER)
    os.chown(home, owner.pw_uid, owner.pw_gid)
    os.chmod(home, 0o755)
    return ["runuser", "-u", OWNER, "--"]


def _watchdog(bin_dir: str, port: int) -> int:
    home = tempfile.mkdtemp(prefix="dbos-book-postgres-")
    as_owner = _as_owner(home)
    pg_ctl = [*as_owner, f"{bin_dir}/pg_ctl", "-D", f"{home}/data"]
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for step, command in (
            # --no-sync: only initdb's own files skip fsync; the server keeps fsync on.
            ("initdb", [*as_owner, f"{bin_dir}/initdb", "-D", f"{home}/data", "-U", "postgres",
                        "--auth=trust", "--no-sync"]),
            ("pg_ctl start", [*pg_ctl, "-l", f"{home}/server.log", "-w", "-o",
                              f"-p {port} -k {home} {SERVER_OPTIONS}", "start"]),
        ):
            run = subprocess.run(command, **quiet)
            if run.returncode != 0:
                print(f"{step} failed: {run.stderr.strip()}", flush=True)
                return 1
        print(f"postgresql://postgres@127.0.0.1:{port}/postgres", flush=True)
        sys.stdin.read()  # until the owner closes it or dies
        return 0
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], **quiet)
        shutil.rmtree(home, ignore_errors=True)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--watchdog"]:
        return _watchdog(argv[1], int(argv[2]))
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    port = int(os.environ.get("DBOS_BOOK_PG_PORT", "0")) or None
    with ThrowawayPostgres(port=port) as server:
        print(f"PostgreSQL {server.version} on 127.0.0.1:{server.port} (removed on exit)",
              flush=True)
        try:
            return subprocess.call(argv, env={**os.environ, "DBOS_SYSTEM_DATABASE_URL": server.url})
        except KeyboardInterrupt:
            return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
