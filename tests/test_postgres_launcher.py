"""One throwaway-Postgres launcher, for make test-postgres, make bench and chapter 11: it
starts a real server and leaves nothing behind, however the process that started it ends."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from booktools import postgres

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = ROOT / "notebooks" / "booktools" / "postgres.py"

pytestmark = pytest.mark.skipif(postgres.binaries() is None, reason="no PostgreSQL binaries")


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def gone_within(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while listening(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not listening(port)


SHOW_SERVER = (
    "import os, psycopg\n"
    "url = os.environ['DBOS_SYSTEM_DATABASE_URL']\n"
    "with psycopg.connect(url) as c:\n"
    "    print(url.rsplit(':', 1)[1].split('/')[0],\n"
    "          *(c.execute(f'show {s}').fetchone()[0] for s in ('fsync', 'max_connections')))\n"
)


def test_a_command_runs_against_a_server_that_is_removed_afterwards():
    run = subprocess.run([sys.executable, LAUNCHER, sys.executable, "-c", SHOW_SERVER],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    port, fsync, connections = run.stdout.splitlines()[-1].split()
    assert (fsync, connections) == ("on", "200")  # durable, and room for every chapter's pools
    assert gone_within(int(port), 5)


def test_the_command_exit_status_is_the_launcher_exit_status():
    run = subprocess.run([sys.executable, LAUNCHER, sys.executable, "-c", "raise SystemExit(3)"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 3


def test_the_server_goes_when_the_process_that_started_it_is_killed():
    owner = subprocess.Popen(
        [sys.executable, "-c",
         "import time; from booktools.postgres import ThrowawayPostgres\n"
         "print(ThrowawayPostgres().port, flush=True); time.sleep(120)"],
        cwd=ROOT / "notebooks", stdout=subprocess.PIPE, text=True)
    port = int(owner.stdout.readline())
    assert listening(port)
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait()
    assert gone_within(port, 10)


def test_test_postgres_and_bench_use_this_launcher_and_no_other():
    wrapper = (ROOT / "scripts" / "with_postgres.sh").read_text()
    bench = (ROOT / "notebooks" / "booktools" / "bench.py").read_text()
    assert "booktools/postgres.py" in wrapper and "initdb" not in wrapper.replace("bin/initdb", "")
    assert "from .postgres import" in bench and "initdb" not in bench
    assert "_postgres_database_for" not in bench
