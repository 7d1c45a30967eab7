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


def is_check(cell: dict) -> bool:
    return cell["cell_type"] == "code" and bool(
        re.search(r"^(verdict = )?(await )?check_\w+\(", "".join(cell["source"]), re.M))


def exercises(path: Path) -> list[list[dict]]:
    """Each exercise's cells, from its statement to the end of its solution."""
    found, current = [], None
    for cell in json.loads(path.read_text())["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and "```{exercise}" in text:
            current = []
            found.append(current)
        if current is not None:
            current.append(cell)
            if cell["cell_type"] == "markdown" and "{solution-end}" in text:
                current = None
    return found


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_each_exercise_is_checked_before_its_solution_runs(notebook):
    """Statement, starter, its check, then the solution (collapsed) and the solution's check.

    The learner's check comes before any solution cell, so stepping with Shift+Enter from a
    wrong answer reaches "Not yet", never a solution that redefines the answer. The solution's
    check is an assertion, `assert verdict.ok, verdict`: it prints nothing (JupyterLab shows a
    cell's output again whenever it runs, and a visible verdict would give the answer away after
    Run All); strict nbval fails if the solution stops passing, and shows the check's message."""
    found = exercises(notebook)
    assert found, f"{notebook.name}: no exercise"
    for cells in found:
        label = re.search(r":label: ([\w-]+)", "".join(cells[0]["source"])).group(1)
        code = [c for c in cells if c["cell_type"] == "code"]
        starter = next(i for i, c in enumerate(code) if "starter" in c["metadata"].get("tags", []))
        solutions = [i for i, c in enumerate(code) if "solution" in c["metadata"].get("tags", [])]
        assert solutions, f"{label}: no solution cell"
        assert is_check(code[starter + 1]), f"{label}: the cell after the starter must be its check"
        assert starter + 1 < solutions[0], f"{label}: a solution cell runs before the check"
        assert "Not done yet" in output_text(code[starter + 1]), (
            f"{label}: the check on the unchanged starter should say 'Not done yet'")
        solution_check = code[-1]
        assert is_check(solution_check) and solutions[-1] < len(code) - 1, (
            f"{label}: the solution ends with its own check")
        assert re.search(r"^verdict = (await )?check_\w+\([\s\S]*\)\nassert verdict\.ok, verdict\b",
                         "".join(solution_check["source"]), re.M), (
            f"{label}: the solution's check asserts its verdict, and shows it if it fails: "
            "verdict = check_x(...), then assert verdict.ok, verdict")
        assert not solution_check.get("outputs"), f"{label}: the solution's check printed something"
        for cell in [code[i] for i in solutions] + [solution_check]:
            assert cell["metadata"].get("jupyter", {}).get("source_hidden"), (
                f"{label}: solution code must be collapsed in JupyterLab (jupyter.source_hidden)")
        for cell in [code[i] for i in solutions]:
            first = "".join(cell["source"]).splitlines()[0]
            assert not re.match(r"@DBOS\.\w+\(\w", first), (
                f"{label}: JupyterLab shows a collapsed cell's first line, and {first!r} gives the "
                "answer away: start the solution cell with a comment")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_opens_unmodified_in_jupyterlab(notebook):
    """A kernelspec, so JupyterLab does not mark an untouched chapter as modified."""
    metadata = json.loads(notebook.read_text())["metadata"]
    assert metadata.get("kernelspec", {}).get("name") == "python3", notebook.name
    assert "jupytext" not in metadata, f"{notebook.name}: leftover jupytext metadata"


# Markup JupyterLab (with jupyterlab-myst) cannot show: roles it cannot resolve across notebooks.
RAW_IN_JUPYTERLAB = re.compile(r"\{(ref|doc|numref|term|eq)\}`")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_markup_reads_the_same_in_jupyterlab(notebook):
    """Cross-references are markdown links with their own text: `[the retries](#ch03-retries)`
    resolves in the HTML book and reads as a link in JupyterLab, where a `{ref}` role to another
    notebook shows as a warning and the bare label."""
    for number, cell in enumerate(json.loads(notebook.read_text())["cells"]):
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            assert not RAW_IN_JUPYTERLAB.search(text), f"{notebook.name}, cell {number}: {text[:80]!r}"
            for empty in re.findall(r"\[\]\(#[\w-]+\)", text):
                raise AssertionError(f"{notebook.name}, cell {number}: {empty} has no link text")


def labels_of(path: Path) -> set[str]:
    """The targets a chapter defines: section labels `(label)=` and exercise labels."""
    text = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                     if c["cell_type"] == "markdown")
    return set(re.findall(r"^\(([\w-]+)\)=", text, re.M)) | set(re.findall(r"^:label: ([\w-]+)", text, re.M))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_every_link_leads_to_a_label_that_exists(notebook):
    """`[text](#label)` points into this chapter and `[text](NN_name.ipynb#label)` into another,
    so the link works in JupyterLab as well as in the book; the label exists where it points.
    (The book's build leaves these anchors to this test: MyST checks only heading slugs.)"""
    for number, cell in enumerate(json.loads(notebook.read_text())["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for target, label in re.findall(r"\]\(([\w./-]*?)(?:#([\w-]+))?\)", "".join(cell["source"])):
            if target.startswith(("http", "mailto")) or (not target and not label):
                continue
            path = notebook if not target else (notebook.parent / target)
            assert path.exists(), f"{notebook.name}, cell {number}: {target} does not exist"
            if label and path.suffix == ".ipynb":
                assert label in labels_of(path), (
                    f"{notebook.name}, cell {number}: no label {label!r} in {path.name}"
                    + ("" if target else " (a label in another chapter needs its file: "
                       "[text](NN_name.ipynb#label), or the link is dead in JupyterLab)"))


@pytest.mark.parametrize("page", sorted((ROOT / "book").glob("*.md")), ids=lambda p: p.name)
def test_every_link_on_a_book_page_leads_to_a_label_that_exists(page):
    """The pages' markdown links to labels get the same check (the build leaves them to it)."""
    text = page.read_text()
    here = set(re.findall(r"^\(([\w-]+)\)=", text, re.M))
    for target, label in re.findall(r"\]\(([\w./-]*?)#([\w-]+)\)", text):
        path = page.parent / target if target else None
        labels = labels_of(path) if path and path.suffix == ".ipynb" else here
        assert label in labels, f"{page.name}: no label {label!r} in {target or page.name}"


def test_chapter_1_tries_every_call_the_exercises_await():
    """Chapter 1's table of calls tried in a cell covers each `DBOS.x_async` an exercise's starter
    or solution uses, so a learner who meets the RuntimeError finds the call there."""
    table = next(c for c in code_cells(ROOT / "notebooks" / "01_lifecycle.ipynb")
                 if "def nap()" in "".join(c["source"]))
    tried = output_text(table)
    for notebook in NOTEBOOKS:
        for cell in code_cells(notebook):
            if {"starter", "solution"} & set(cell["metadata"].get("tags", [])):
                for name in re.findall(r"\bDBOS\.(\w+)_async\(", "".join(cell["source"])):
                    assert f"DBOS.{name}(" in tried, (
                        f"{notebook.name} awaits DBOS.{name}_async: add DBOS.{name}(...) to "
                        "chapter 1's table of calls tried in a cell")


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
