"""Write the learner edition: every chapter with its solutions removed and its outputs cleared.

    python scripts/learner_edition.py [OUTPUT]      (default: learner-edition/)

The exercise cells (tagged `starter`) stay, so learners fill them in; the check cells then say
"Not done yet" instead of failing, and the notebook still runs top to bottom. The packages in
notebooks/ are copied alongside (the helpers, booktools; the code chapter 11 measures, cost_lab;
chapter 14's application, order_service), with the reference pages the chapters link to
(book/*.md), the packages a learner needs (requirements.txt, without the book's build and test
tools) and a README with the commands that start it, so the folder works on its own (hand it out
as a zip).
"""

import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTION_START, SOLUTION_END = "{solution-start}", "{solution-end}"


def learner_cells(cells):
    """Drop everything from a solution-start cell to its solution-end cell, inclusive."""
    kept, inside = [], False
    for cell in cells:
        source = cell.source
        if cell.cell_type == "markdown" and SOLUTION_START in source:
            inside = True
        if not inside and "solution" not in cell.metadata.get("tags", []):
            kept.append(cell)
        if cell.cell_type == "markdown" and SOLUTION_END in source:
            inside = False
    return kept


README = """\
# Durable Python with DBOS: the workshop edition

Every chapter of the book, with its exercises and without their solutions. You need Python 3.11.

    python3.11 -m venv .venv && .venv/bin/pip install -r requirements.txt
    .venv/bin/jupyter lab notebooks/00_why_durable_execution.ipynb

(On Windows: `py -3.11 -m venv .venv`, then `.venv\\Scripts\\pip` and `.venv\\Scripts\\jupyter`.)

Work through a chapter top to bottom with Shift+Enter, or run it all (*Run > Run All Cells*) and
then do its exercises: write your answer in the cell under each exercise, run it, then run the
check below it. Each check tells you what is right, or what is missing and why.

Each chapter keeps its files (and its SQLite database) in `notebooks/scratch/`. To run the chapters
against Postgres instead, set `DBOS_SYSTEM_DATABASE_URL` to a Postgres URL before starting JupyterLab.
"""


def learner_requirements() -> str:
    """The book's pinned packages, up to (not including) the tools that build and test the book."""
    text = (ROOT / "requirements.txt").read_text().split("# Building the book")[0]
    pins = text[text.index("# The library the book teaches"):]
    return "# What the chapters need, pinned as in the book.\n\n" + pins.rstrip() + "\n"


def make_learner_edition(output: Path) -> list[Path]:
    shutil.rmtree(output, ignore_errors=True)
    (output / "notebooks").mkdir(parents=True)
    (output / "book").mkdir()
    (output / "README.md").write_text(README)
    (output / "requirements.txt").write_text(learner_requirements())
    for page in ("setup", "cheatsheet", "glossary"):
        shutil.copy(ROOT / "book" / f"{page}.md", output / "book")
    for package in sorted((ROOT / "notebooks").glob("*/__init__.py")):
        shutil.copytree(
            package.parent, output / "notebooks" / package.parent.name,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    written = []
    for source in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(source, as_version=4)
        nb.cells = learner_cells(nb.cells)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        target = output / "notebooks" / source.name
        nbformat.write(nb, target)
        written.append(target)
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "learner-edition"
    for path in make_learner_edition(out):
        print(path.relative_to(out.parent) if out.is_absolute() else path)
