"""Write the learner edition: every chapter with its solutions removed and its outputs cleared.

    python scripts/learner_edition.py [OUTPUT]      (default: learner-edition/)

The exercise cells (tagged `starter`) stay, so learners fill them in; the check cells then say
"Not done yet" instead of failing, and the notebook still runs top to bottom. The helpers in
notebooks/booktools (and chapter 12's application, notebooks/order_service) are copied alongside,
so the folder works on its own (hand it out as a zip).
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


def make_learner_edition(output: Path) -> list[Path]:
    shutil.rmtree(output, ignore_errors=True)
    (output / "notebooks").mkdir(parents=True)
    for package in ("booktools", "order_service"):
        shutil.copytree(
            ROOT / "notebooks" / package, output / "notebooks" / package,
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
