"""Every notebook is saved executed, and its stored outputs are fit to publish."""

import json
import re
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def code_cells(path: Path) -> list[dict]:
    cells = json.loads(path.read_text())["cells"]
    return [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def output_text(cell: dict) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append("".join(output.get("text", "")))
        for key, value in output.get("data", {}).items():
            if key.startswith("text/"):
                parts.append("".join(value))
        parts += output.get("traceback", [])
    return "\n".join(parts)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_saved_executed_in_order(notebook):
    """nbval compares stored outputs, so a notebook saved unexecuted would test nothing."""
    counts = [cell.get("execution_count") for cell in code_cells(notebook)]
    assert None not in counts, f"{notebook.name} has cells that were never run"
    assert counts == list(range(1, len(counts) + 1)), f"{notebook.name} was not run top to bottom once"
    assert any(cell.get("outputs") for cell in code_cells(notebook))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_hold_no_machine_details(notebook):
    """Outputs must read the same on any machine: no absolute paths, no host name."""
    forbidden = [str(ROOT), "/home/", "/root/", "/tmp/", "site-packages", socket.gethostname()]
    for number, cell in enumerate(code_cells(notebook), 1):
        text = output_text(cell)
        for needle in forbidden:
            assert needle not in text, f"{notebook.name}, code cell {number}: output contains {needle!r}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_no_errors_stored(notebook):
    """A cell that shows a failure catches it and prints it; no raw tracebacks in the book."""
    for number, cell in enumerate(code_cells(notebook), 1):
        errors = [o for o in cell.get("outputs", []) if o["output_type"] == "error"]
        assert not errors, f"{notebook.name}, code cell {number} stored an error"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_ignored_outputs_say_why(notebook):
    for number, cell in enumerate(code_cells(notebook), 1):
        source = "".join(cell["source"])
        if "NBVAL_IGNORE_OUTPUT" in source:
            assert re.search(r"# NBVAL_IGNORE_OUTPUT: \w+", source), (
                f"{notebook.name}, code cell {number}: write '# NBVAL_IGNORE_OUTPUT: <why no sanitizer can help>'"
            )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_starts_from_a_fresh_workspace(notebook):
    """Each chapter empties a folder of its own before it does anything else."""
    first = "".join(code_cells(notebook)[0]["source"])
    chapter = "ch" + notebook.name[:2]
    assert f'fresh_workspace("{chapter}")' in first, (
        f"{notebook.name}: the first code cell must call fresh_workspace({chapter!r})"
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_have_starter_solution_and_check(notebook):
    """Exercise convention: a starter cell, a solution cell, then a check that prints feedback."""
    cells = code_cells(notebook)
    tags = [set(c["metadata"].get("tags", [])) for c in cells]
    starters = sum("starter" in t for t in tags)
    solutions = sum("solution" in t for t in tags)
    checks = [c for c in cells if re.search(r"^check_\w+\(", "".join(c["source"]), re.M)]
    assert starters >= 1 and solutions >= 1, f"{notebook.name}: no exercise (starter + solution cells)"
    assert len(checks) >= starters, f"{notebook.name}: every exercise needs a check cell"
    for check in checks:
        assert "✅ Correct" in output_text(check), f"{notebook.name}: a solution does not pass its check"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_code_fits_the_books_column(notebook):
    """book/static/book.css fits 90 characters of code in the column, and 82 in the indented
    box of a solution; no code line is longer."""
    for number, cell in enumerate(code_cells(notebook)):
        limit = 82 if "solution" in cell["metadata"].get("tags", []) else 90
        for line in "".join(cell["source"]).splitlines():
            assert len(line) <= limit, (
                f"{notebook.name}, code cell {number}: {len(line)} characters: {line!r}"
            )
