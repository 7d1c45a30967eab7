"""A child forked from the preloader is the child `python script.py` would have been, started
without importing DBOS again (booktools/preload.py)."""

import os
import textwrap

import pytest

from booktools import preload, run_script

pytestmark = pytest.mark.skipif(not preload.enabled(), reason="Linux only, BOOKTOOLS_PRELOAD=0")

REPORT = """\
import os, sys, time
print("argv", sys.argv[1:], "cwd", os.path.basename(os.getcwd()), "env", os.environ.get("COLOUR"))
print("dbos already imported:", "dbos" in sys.modules, "as __main__:", __name__ == "__main__")
print("path[0] is the script's folder:", sys.path[0] == os.path.dirname(os.path.abspath(__file__)))
print("it is", sys.argv[1], file=sys.stderr)
"""


def write(folder, name, code):
    (folder / name).write_text(textwrap.dedent(code))
    return folder / name


def test_a_preloaded_child_sees_its_arguments_folder_and_environment(tmp_path):
    write(tmp_path, "report.py", REPORT)
    run = run_script("report.py", "blue", cwd=tmp_path, env={"COLOUR": "red"}, echo=False)
    assert run.lines == [
        f"argv ['blue'] cwd {tmp_path.name} env red",
        "dbos already imported: True as __main__: True",
        "path[0] is the script's folder: True",
    ]
    assert run.stderr == "it is blue\n" and run.returncode == 0


def test_exit_codes_and_tracebacks_are_those_of_python_script(tmp_path):
    write(tmp_path, "exits.py", "import sys\nsys.exit(3)\n")
    write(tmp_path, "fails.py", "def main():\n    raise ValueError('bad row')\n\nmain()\n")
    assert run_script("exits.py", cwd=tmp_path, echo=False).returncode == 3
    failed = run_script("fails.py", cwd=tmp_path, echo=False)
    assert failed.returncode == 1
    frames = [line for line in failed.stderr.splitlines() if line.lstrip().startswith("File ")]
    assert frames and all("fails.py" in frame for frame in frames), failed.stderr
    assert failed.stderr.rstrip().endswith("ValueError: bad row")


def test_a_module_runs_with_dash_m(tmp_path):
    write(tmp_path, "greeter.py", "import sys\nprint('hello', __name__, sys.argv[1:])\n")
    run = run_script("-m", "greeter", "ann", cwd=tmp_path, echo=False)
    assert run.lines == ["hello __main__ ['ann']"]


def test_a_preloaded_child_is_killed_with_sigkill_like_any_other(tmp_path):
    write(tmp_path, "slow.py", "import time\nprint('working', flush=True)\ntime.sleep(60)\n")
    run = run_script("slow.py", cwd=tmp_path, kill_when="working", echo=False)
    assert run.killed and run.returncode == -9


def test_the_preloader_can_be_turned_off(tmp_path, monkeypatch):
    write(tmp_path, "report.py", REPORT)
    monkeypatch.setenv("BOOKTOOLS_PRELOAD", "0")
    run = run_script("report.py", "blue", cwd=tmp_path, echo=False)
    assert "dbos already imported: False as __main__: True" in run.lines


def test_python_start_up_settings_it_cannot_honour_get_a_fresh_interpreter():
    assert preload.suits({"PYTHONUNBUFFERED": "1", "PYTHONPATH": "x", "PATH": "/bin"})
    assert not preload.suits({"PYTHONHASHSEED": "0"})
    assert not preload.suits({"PYTHONWARNINGS": "error"})


def test_a_preloader_that_died_is_replaced(tmp_path):
    write(tmp_path, "report.py", REPORT)
    run_script("report.py", "one", cwd=tmp_path, echo=False)
    os.kill(preload._preloader._process.pid, 9)
    preload._preloader._process.wait()
    run = run_script("report.py", "two", cwd=tmp_path, echo=False)
    assert run.returncode == 0 and "dbos already imported: True as __main__: True" in run.lines
