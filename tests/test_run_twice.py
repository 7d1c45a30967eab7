"""Every chapter survives "Run All" twice in one kernel, as a learner re-running it would do.

The chapters themselves run twice in `make test-postgres` (`pytest --nbval --run-all-twice`,
conftest.py): the first run compared with the stored outputs, the second in the same kernel,
where a cell that raises fails the suite. These tests pin what that option does, on a notebook
small enough to read.
"""

import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parent.parent


def notebook(tmp_path, *cells) -> Path:
    """A notebook whose cells are (source, stored stdout) pairs, saved as executed."""
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                               "display_name": "Python 3"}})
    for count, (source, stdout) in enumerate(cells, start=1):
        nb.cells.append(new_code_cell(
            source, execution_count=count,
            outputs=[new_output("stream", name="stdout", text=stdout)] if stdout else [],
        ))
    path = tmp_path / "chapter.ipynb"
    nbformat.write(nb, path)
    return path


def nbval(path: Path, *options: str) -> subprocess.CompletedProcess:
    # -p conftest: this repository's conftest.py, which adds --run-all-twice, as a plugin;
    # -p no:cacheprovider: nothing written beside the notebook.
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "-p", "conftest", "-p", "no:cacheprovider",
         "-v", *options, str(path)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )


COUNTING = ("runs = globals().get('runs', 0) + 1\nprint('runs:', runs)", "runs: 1\n")


def test_the_second_run_shares_the_kernel_and_its_output_is_not_compared(tmp_path):
    run = nbval(notebook(tmp_path, COUNTING), "--run-all-twice")
    assert run.returncode == 0, run.stdout
    assert "Cell 0 PASSED" in run.stdout and "Cell 0, Run All again PASSED" in run.stdout


def test_a_cell_that_fails_only_on_the_second_run_fails_the_suite(tmp_path):
    once_only = ("assert runs == 1, 'this cell cannot run twice'", "")
    run = nbval(notebook(tmp_path, COUNTING, once_only), "--run-all-twice")
    assert run.returncode == 1, run.stdout
    assert "Cell 1 PASSED" in run.stdout and "Cell 1, Run All again FAILED" in run.stdout


def test_a_warning_only_the_second_run_prints_fails_the_suite(tmp_path):
    """A learner pressing Run All again sees DBOS's warnings in red: none may be new."""
    warns_again = ("import sys\nif runs > 1:\n    print('12:00:01 [ WARNING] Duplicate "
                   "registration of function f', file=sys.stderr)", "")
    run = nbval(notebook(tmp_path, COUNTING, warns_again), "--run-all-twice")
    assert run.returncode == 1, run.stdout
    assert "Cell 1, Run All again FAILED" in run.stdout
    assert "printed warnings the first run did not" in run.stdout


def test_a_warning_the_first_run_printed_too_is_allowed(tmp_path):
    """The same warning, with another clock, is part of the chapter (its text explains it)."""
    warns_always = ("import sys, time\nprint(time.strftime('%H:%M:%S'), '[ WARNING] expected',"
                    " file=sys.stderr)", "")
    path = notebook(tmp_path, COUNTING, warns_always)
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].outputs = [new_output("stream", name="stderr", text="09:15:00 [ WARNING] expected\n")]
    nbformat.write(nb, path)
    run = nbval(path, "--run-all-twice", "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"))
    assert "Cell 1, Run All again PASSED" in run.stdout, run.stdout


def test_the_first_run_is_still_compared_strictly(tmp_path):
    wrong = (COUNTING[0], "runs: 7\n")
    run = nbval(notebook(tmp_path, wrong), "--run-all-twice")
    assert run.returncode == 1 and "Cell 0 FAILED" in run.stdout, run.stdout


def test_without_the_option_each_cell_runs_once(tmp_path):
    run = nbval(notebook(tmp_path, COUNTING))
    assert run.returncode == 0 and "Run All again" not in run.stdout, run.stdout


def test_make_test_postgres_runs_all_twice():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest-postgres:", 1)[1].split("\n\n", 1)[0]
    assert "--run-all-twice" in recipe
