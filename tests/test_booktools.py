"""The demo machinery does what the chapters rely on: real kills, nothing left running."""

import logging
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import booktools

from booktools import Worker, run_script, show_ledger
from booktools.logs import counted_log_lines


def write(tmp_path, name, code):
    path = tmp_path / name
    path.write_text(textwrap.dedent(code))
    return path


def alive(pid: int) -> bool:
    """Running, that is: not gone and not a zombie waiting to be reaped by init."""
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_run_script_kills_on_the_named_line_and_leaves_no_process(tmp_path):
    # The script starts a grandchild too: the kill must take the whole process group.
    write(tmp_path, "slow.py", """
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print("grandchild", child.pid, flush=True)
        print("step 3: started", flush=True)
        time.sleep(60)
        print("never printed", flush=True)
    """)
    run = run_script("slow.py", kill_when="step 3: started", cwd=tmp_path, echo=False)
    assert run.killed and run.returncode == -9
    assert run.lines[-1] == "step 3: started"
    grandchild = int(run.lines[0].split()[1])
    deadline = time.monotonic() + 5  # SIGKILL is delivered asynchronously
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not alive(grandchild)


def test_run_script_reports_a_failure_with_its_stderr(tmp_path, capsys):
    write(tmp_path, "fails.py", "import sys; print('before'); sys.exit('boom')")
    run = run_script("fails.py", cwd=tmp_path)
    assert run.returncode == 1 and not run.killed
    assert "boom" in capsys.readouterr().out


def test_run_script_says_when_nothing_was_killed(tmp_path, capsys):
    write(tmp_path, "quick.py", "print('done')")
    run = run_script("quick.py", kill_when="never appears", cwd=tmp_path)
    assert not run.killed
    assert "nothing was killed" in capsys.readouterr().out


def test_worker_restarts_and_is_gone_after_the_block(tmp_path):
    write(tmp_path, "worker.py", """
        import time
        print("ready", flush=True)
        time.sleep(60)
    """)
    with Worker("worker.py", cwd=tmp_path) as worker:
        worker.wait_for("ready", timeout=10)
        first = worker.proc.pid
        worker.restart().wait_for("ready", timeout=10)
        assert worker.proc.pid != first and not alive(first)
    assert not alive(worker.proc.pid)


def test_show_ledger_flags_a_duplicate(tmp_path, capsys):
    ledger = tmp_path / "ledger.txt"
    ledger.write_text("charge order-1\ncharge order-1\n")
    show_ledger(ledger, expected=["charge order-1"])
    out = capsys.readouterr().out
    assert "2 times!" in out and "❌ not exactly once" in out


def test_counted_log_lines_counts_and_drops_only_the_matching_lines_and_only_inside(caplog):
    dbos_logger = logging.getLogger("dbos")
    with caplog.at_level(logging.WARNING, logger="dbos"):
        with counted_log_lines("Contention detected") as contention:
            dbos_logger.warning("Contention detected in queue thread for q. Increasing ...")
            dbos_logger.warning("Contention detected in queue thread for q. Increasing ...")
            dbos_logger.warning("a warning worth seeing")
        dbos_logger.warning("Contention detected after the block")
    assert contention.count == 2
    assert [record.getMessage() for record in caplog.records] == [
        "a warning worth seeing", "Contention detected after the block"]


def test_a_worker_dies_with_the_process_that_started_it(tmp_path):
    # The parent stands in for a kernel killed outright: SIGKILL, so no atexit, no clean-up.
    write(tmp_path, "worker.py", """
        import time
        print("ready", flush=True)
        time.sleep(60)
    """)
    write(tmp_path, "parent.py", f"""
        import sys, time
        sys.path.insert(0, {str(Path(booktools.__file__).parents[1])!r})
        from booktools import Worker
        worker = Worker("worker.py").start()
        worker.wait_for("ready")
        print(worker.proc.pid, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "parent.py"], cwd=tmp_path,
                              stdout=subprocess.PIPE, text=True)
    worker_pid = int(parent.stdout.readline())
    assert alive(worker_pid)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(worker_pid), "the worker outlived the process that started it"
