"""An unsupported Python or SQLite is named in one sentence, before DBOS fails obscurely."""

import subprocess
import sys
from pathlib import Path

import pytest

import booktools
from booktools import preflight

ROOT = Path(__file__).resolve().parent.parent
PREFLIGHT = ROOT / "notebooks" / "booktools" / "preflight.py"


@pytest.mark.parametrize("python, sqlite", [
    ((3, 11, 7), (3, 40, 1)),   # this machine's Python 3.11: any SQLite works
    ((3, 11, 2), (3, 31, 1)),
    ((3, 12, 1), (3, 42, 0)),   # 3.12+ with unixepoch('subsec')
    ((3, 13, 0), (3, 50, 4)),
])
def test_supported_combinations_pass(python, sqlite):
    assert preflight.problem(python, sqlite) is None


def test_python_312_or_later_with_old_sqlite_is_told_what_to_do():
    sentence = preflight.problem((3, 13, 0), (3, 40, 1))
    assert "SQLite 3.40.1" in sentence and "SQLite 3.42 or later" in sentence
    assert "use Python 3.11" in sentence and "make PYTHON=python3.11" in sentence
    assert sentence.count(". ") == 0, "one sentence"


def test_python_older_than_311_is_told_what_to_do():
    sentence = preflight.problem((3, 10, 13), (3, 40, 1))
    assert "Python 3.11 or later" in sentence and "3.10.13" in sentence


def test_the_first_cell_of_every_chapter_stops_with_the_sentence(monkeypatch, tmp_path):
    monkeypatch.setattr(preflight, "problem", lambda: "Use Python 3.11.")
    with pytest.raises(preflight.UnsupportedEnvironment, match="Use Python 3.11."):
        booktools.fresh_workspace("ch_preflight_test")


def test_jupyter_shows_the_sentence_without_a_traceback():
    error = preflight.UnsupportedEnvironment("Use Python 3.11.")
    assert error._render_traceback_() == ["UnsupportedEnvironment: Use Python 3.11."]


def test_the_script_names_the_versions_and_fails_on_an_unsupported_set_up():
    run = subprocess.run([sys.executable, PREFLIGHT], capture_output=True, text=True)
    assert preflight.describe() in run.stdout + run.stderr
    assert run.returncode == (1 if preflight.problem() else 0)


def test_make_checks_python_before_creating_the_virtual_environment():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(VENV)/installed: requirements.txt", 1)[1]
    assert recipe.index("preflight.py") < recipe.index("-m venv")
